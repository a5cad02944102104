import Testing
@testable import NTLMHTTP

@Suite("Base64")
struct Base64Tests {
    @Test(arguments: [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy"),
    ])
    func rfc4648Vectors(plain: String, encoded: String) {
        #expect(Base64.encode(Array(plain.utf8)) == encoded)
        #expect(Base64.decode(encoded) == Array(plain.utf8))
    }

    @Test(arguments: ["Zg=", "Zg", "Z===", "Zm9v!", "Zh==", "Zm9=", "=Zm9", "Zm=v", "Zm9vYg==Zg==", " Zm9v"])
    func rejectsInvalidInput(_ input: String) {
        #expect(Base64.decode(input) == nil)
    }

    @Test func roundTripsAllByteValues() {
        for length in 0..<300 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
    }
}
