/// Error thrown by the low-level crypto primitives (``DES``) when an input has
/// the wrong length.
///
/// The primitives never pad or truncate silently: a wrong-sized key or block is
/// always reported through this error instead.
public enum CryptoInputError: Error, Hashable, Sendable {
    /// The key did not have the required number of bytes.
    case invalidKeyLength(expected: Int, actual: Int)
    /// The data block did not have the required number of bytes.
    case invalidBlockLength(expected: Int, actual: Int)
}
