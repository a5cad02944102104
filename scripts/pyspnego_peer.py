#!/usr/bin/env python3
"""pyspnego peer: an independent NTLM/SPNEGO implementation driven over JSON lines.

The Swift tests (Tests/NTLMTests/Support/PythonPeer.swift) start this helper once and
check the pure-Swift NTLM code against pyspnego (pinned in scripts/requirements-test.txt).

Protocol
--------
One JSON object per line on stdin, one JSON object per line on stdout (flushed after each).
Every byte value, in and out, is a lowercase hex string. Every request carries "op" and
"id"; the answer echoes "id". A failing request is answered with
``{"id": .., "error": "<message>", "error_type": "<exception class>"}`` and the helper
keeps running. It exits on EOF. Nothing else is ever written to stdout (diagnostics go to
stderr).

Operations (inputs -> outputs; "?" marks an optional input)
-----------------------------------------------------------
ping
    -> pyspnego_version, python
ntlmv2
    user, domain, password | nt_hash (16), server_challenge (8), client_challenge (8),
    timestamp (int FILETIME: 100 ns ticks since 1601-01-01), target_info (raw AV pair bytes)
    -> nt_hash, ntowfv2, nt_proof_str, nt_response, lm_response (24), session_base_key,
       key_exchange_key, blob, source
    Backed by crypto.ntowfv1 (skipped when nt_hash is given), crypto.ntowfv2 and
    crypto.compute_response_v2, which builds the blob itself with
    messages.NTClientChallengeV2(time_stamp, client_challenge, av_pairs).pack() + Z(4), i.e.
    01 01 Z(6) Timestamp ClientChallenge Z(4) TargetInfo Z(4). pyspnego's TargetInfo.pack()
    re-serialises AV pairs (drops MsvAvEOL entries and re-appends one, merges duplicate ids),
    so the helper hands compute_response_v2 a tiny object whose pack() returns target_info
    exactly as given, and checks the resulting blob byte for byte against the layout above
    (an error is returned if pyspnego ever builds something else). The timestamp is a
    messages.FileTime when it round-trips through FileTime.unpack/pack exactly, else a raw
    8-byte little-endian value. For NTLMv2, key_exchange_key == session_base_key.
ntlmv1
    password | nt_hash (+ lm_hash?), flags (int), server_challenge (8), client_challenge (8),
    no_lm_response? (bool, default true)
    -> nt_hash, lm_hash, nt_response, lm_response, session_base_key, key_exchange_key
    Backed by crypto.lmowfv1, crypto.ntowfv1, crypto.compute_response_v1 (which calls
    crypto.kxkey) and md4 for the session base key.
mic
    exported_session_key, negotiate, challenge, authenticate (MIC field zeroed), zero_mic? (bool:
    zero the MIC field of authenticate with messages.Authenticate first)
    -> mic, source ("spnego._ntlm.NTLMProxy._calculate_mic", i.e. HMAC_MD5(key, neg+chal+auth))
encrypt_session_key
    key_exchange_key, exported_session_key -> encrypted_session_key (crypto.rc4k)
seal_keys
    exported_session_key, flags (int)
    -> client_sign_key, server_sign_key, client_seal_key, server_seal_key
    (crypto.signkey / crypto.sealkey with usage "initiate" = client, "accept" = server;
    a sign key is "" when extended session security is not in flags)
sign
    flags (int), seq_num (int), message, and either sign_key + seal_key, or
    exported_session_key + direction ("client" | "server") to derive them
    -> signature (16), sign_key, seal_key
    Backed by _ntlm_raw.security.sign with a fresh crypto.rc4init(seal_key) handle (MS-NLMP
    3.4.4; the RC4 step only applies with KEY_EXCH, or without ESS).
seal
    same inputs as sign -> sealed_message, signature (_ntlm_raw.security.seal: RC4 of the
    message, then the signature, on one fresh handle)
client_new
    ctx, user ("DOMAIN\\user" or "user@REALM"), password | nt_hash (+ lm_hash?),
    protocol ("ntlm" | "negotiate"), channel_bindings_app_data? (hex; GssChannelBindings with
    only application_data), hostname?, service? (SPN parts, default host/unspecified),
    workstation? (NETBIOS_COMPUTER_NAME), lm_compat_level? (LM_COMPAT_LEVEL, default 3)
    -> ctx, token (first token), complete
client_step
    ctx, token -> token (or null), complete, and once complete: session_key, ntlm_flags,
    negotiated_protocol
server_new
    ctx, protocol ("ntlm" | "negotiate"), user_file (path; NTLM_USER_FILE, lines
    DOMAIN:user:password), channel_bindings_app_data?, lm_compat_level?
    -> ctx
server_step
    ctx, token -> token (or null), complete, and once complete: client_principal,
    session_key, ntlm_flags, negotiated_protocol. A rejected authentication is an ordinary
    error answer (the helper and other contexts live on).
ctx_close
    ctx -> closed (bool: whether it existed)
parse
    token (raw NTLM or SPNEGO) -> spnego (the SPNEGO wrapper type or null), message_type
    (1/2/3 or null), and for NTLM: flags (int), domain, user, workstation, target_name,
    server_challenge, target_info ([{id, name, value, value_hex}]), lm_response,
    nt_response, encrypted_session_key, mic, version; plus pyspnego_dump (the structure
    printed by `python -m spnego`, spnego.__main__.parse_token).

Full contexts are spnego.client()/spnego.server() with NegotiateOptions.use_ntlm (and
use_negotiate for protocol "negotiate"), so pyspnego's pure-Python NTLMProxy (inside its
NegotiateProxy for SPNEGO) is used and GSSAPI never is. Credentials as hashes: pyspnego
(>= 0.10) has spnego.NTLMHash(username, lm_hash, nt_hash); it also accepts a password string
"LMHEX:NTHEX" (crypto.is_ntlm_hash) and turns it into an NTLMHash. With nt_hash this helper
passes an NTLMHash credential directly.
"""

import json
import os
import struct
import sys
import traceback
import typing

try:
    import spnego
    from spnego._ntlm import NTLMProxy
    from spnego._ntlm_raw import crypto, security
    from spnego._ntlm_raw.md4 import md4
    from spnego._ntlm_raw.messages import (
        Authenticate,
        AvId,
        Challenge,
        FileTime,
        Negotiate,
        NTLMMessage,
        TargetInfo,
    )
    from spnego.channel_bindings import GssChannelBindings
except Exception as exc:  # pragma: no cover - reported to the Swift side through stderr + exit code
    sys.stderr.write("pyspnego_peer: cannot import pyspnego: %r\n" % (exc,))
    sys.exit(3)


class PeerError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Helpers


def unhex(req: typing.Dict[str, typing.Any], name: str, length: typing.Optional[int] = None) -> bytes:
    if name not in req or req[name] is None:
        raise PeerError("missing field %r" % name)
    value = req[name]
    if not isinstance(value, str):
        raise PeerError("field %r must be a hex string" % name)
    try:
        data = bytes.fromhex(value.replace(" ", ""))
    except ValueError:
        raise PeerError("field %r is not valid hex" % name)
    if length is not None and len(data) != length:
        raise PeerError("field %r must be %d bytes, got %d" % (name, length, len(data)))
    return data


def opt_hex(req: typing.Dict[str, typing.Any], name: str) -> typing.Optional[bytes]:
    if req.get(name) is None:
        return None
    return unhex(req, name)


def text(req: typing.Dict[str, typing.Any], name: str, default: typing.Optional[str] = None) -> str:
    value = req.get(name, default)
    if value is None:
        raise PeerError("missing field %r" % name)
    if not isinstance(value, str):
        raise PeerError("field %r must be a string" % name)
    return value


def integer(req: typing.Dict[str, typing.Any], name: str, default: typing.Optional[int] = None) -> int:
    value = req.get(name, default)
    if value is None:
        raise PeerError("missing field %r" % name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise PeerError("field %r must be an integer" % name)
    return value


def h(data: typing.Optional[bytes]) -> typing.Optional[str]:
    return None if data is None else bytes(data).hex()


class _RawAvPairs:
    """Stands in for messages.TargetInfo in NTClientChallengeV2: pack() gives the bytes as given."""

    def __init__(self, raw: bytes) -> None:
        self._raw = raw

    def pack(self) -> bytes:
        return self._raw


class _RawFileTime:
    """Stands in for messages.FileTime when the value is outside what datetime can hold."""

    def __init__(self, ticks: int) -> None:
        self._ticks = ticks

    def pack(self) -> bytes:
        return struct.pack("<Q", self._ticks)


def filetime(ticks: int) -> typing.Tuple[typing.Any, str]:
    if ticks < 0 or ticks > 0xFFFFFFFFFFFFFFFF:
        raise PeerError("timestamp must fit in 64 unsigned bits")
    raw = struct.pack("<Q", ticks)
    try:
        ft = FileTime.unpack(raw)
        if ft.pack() == raw:
            return ft, "FileTime"
    except (OverflowError, ValueError):
        pass
    return _RawFileTime(ticks), "raw"


def nt_hash_of(req: typing.Dict[str, typing.Any]) -> bytes:
    if req.get("nt_hash") is not None:
        return unhex(req, "nt_hash", 16)
    return crypto.ntowfv1(text(req, "password"))


# ---------------------------------------------------------------------------------------------
# Stateless operations


def op_ping(req: typing.Dict[str, typing.Any]) -> typing.Dict[str, typing.Any]:
    from spnego._version import __version__

    return {"pyspnego_version": __version__, "python": sys.version.split()[0]}


def op_ntlmv2(req: typing.Dict[str, typing.Any]) -> typing.Dict[str, typing.Any]:
    user = text(req, "user")
    domain = text(req, "domain", "")
    nt_hash = nt_hash_of(req)
    server_challenge = unhex(req, "server_challenge", 8)
    client_challenge = unhex(req, "client_challenge", 8)
    ticks = integer(req, "timestamp")
    target_info = unhex(req, "target_info")

    time, time_source = filetime(ticks)
    response_key = crypto.ntowfv2(user, nt_hash, domain)
    nt_response, lm_response, session_base_key = crypto.compute_response_v2(
        response_key, server_challenge, client_challenge, time, _RawAvPairs(target_info)
    )

    expected_blob = (
        b"\x01\x01" + b"\x00" * 6 + struct.pack("<Q", ticks) + client_challenge + b"\x00" * 4
        + target_info + b"\x00" * 4
    )
    blob = nt_response[16:]
    if blob != expected_blob:
        raise PeerError(
            "pyspnego built an unexpected NTLMv2 blob %s (expected %s)" % (blob.hex(), expected_blob.hex())
        )

    return {
        "nt_hash": h(nt_hash),
        "ntowfv2": h(response_key),
        "nt_proof_str": h(nt_response[:16]),
        "nt_response": h(nt_response),
        "blob": h(blob),
        "lm_response": h(lm_response),
        "session_base_key": h(session_base_key),
        "key_exchange_key": h(session_base_key),
        "timestamp_source": time_source,
        "source": "spnego._ntlm_raw.crypto.ntowfv2 + compute_response_v2 (blob: messages.NTClientChallengeV2)",
    }


def op_ntlmv1(req: typing.Dict[str, typing.Any]) -> typing.Dict[str, typing.Any]:
    flags = integer(req, "flags")
    server_challenge = unhex(req, "server_challenge", 8)
    client_challenge = unhex(req, "client_challenge", 8)
    no_lm_response = bool(req.get("no_lm_response", True))
    if req.get("nt_hash") is not None:
        nt_hash = unhex(req, "nt_hash", 16)
        lm_hash = opt_hex(req, "lm_hash") or b"\x00" * 16
    else:
        password = text(req, "password")
        nt_hash = crypto.ntowfv1(password)
        lm_hash = crypto.lmowfv1(password)

    nt_response, lm_response, key_exchange_key = crypto.compute_response_v1(
        flags, nt_hash, lm_hash, server_challenge, client_challenge, no_lm_response=no_lm_response
    )
    return {
        "nt_hash": h(nt_hash),
        "lm_hash": h(lm_hash),
        "nt_response": h(nt_response),
        "lm_response": h(lm_response),
        "session_base_key": h(md4(nt_hash)),
        "key_exchange_key": h(key_exchange_key),
        "source": "spnego._ntlm_raw.crypto.compute_response_v1 (+ kxkey)",
    }


def op_mic(req: typing.Dict[str, typing.Any]) -> typing.Dict[str, typing.Any]:
    key = unhex(req, "exported_session_key", 16)
    negotiate = unhex(req, "negotiate")
    challenge = unhex(req, "challenge")
    authenticate = unhex(req, "authenticate")
    if req.get("zero_mic"):
        auth = Authenticate.unpack(authenticate)
        auth.mic = b"\x00" * 16
        authenticate = auth.pack()
    # _calculate_mic does not touch self: call pyspnego's own code path without a context.
    mic = NTLMProxy._calculate_mic(typing.cast(NTLMProxy, None), key, negotiate, challenge, authenticate)
    return {"mic": h(mic), "source": "spnego._ntlm.NTLMProxy._calculate_mic"}


def op_encrypt_session_key(req: typing.Dict[str, typing.Any]) -> typing.Dict[str, typing.Any]:
    kxkey = unhex(req, "key_exchange_key")
    session_key = unhex(req, "exported_session_key")
    return {"encrypted_session_key": h(crypto.rc4k(kxkey, session_key)), "source": "spnego._ntlm_raw.crypto.rc4k"}


def op_seal_keys(req: typing.Dict[str, typing.Any]) -> typing.Dict[str, typing.Any]:
    key = unhex(req, "exported_session_key")
    flags = integer(req, "flags")
    return {
        "client_sign_key": h(crypto.signkey(flags, key, "initiate")),
        "server_sign_key": h(crypto.signkey(flags, key, "accept")),
        "client_seal_key": h(crypto.sealkey(flags, key, "initiate")),
        "server_seal_key": h(crypto.sealkey(flags, key, "accept")),
        "source": "spnego._ntlm_raw.crypto.signkey / sealkey",
    }


def _sign_inputs(req: typing.Dict[str, typing.Any]) -> typing.Tuple[int, int, bytes, bytes, bytes]:
    flags = integer(req, "flags")
    seq_num = integer(req, "seq_num")
    message = unhex(req, "message")
    if req.get("seal_key") is not None:
        seal_key = unhex(req, "seal_key")
        sign_key = opt_hex(req, "sign_key") or b""
    else:
        key = unhex(req, "exported_session_key")
        direction = text(req, "direction", "client")
        if direction not in ("client", "server"):
            raise PeerError("direction must be 'client' or 'server'")
        usage = "initiate" if direction == "client" else "accept"
        sign_key = crypto.signkey(flags, key, usage)
        seal_key = crypto.sealkey(flags, key, usage)
    return flags, seq_num, message, sign_key, seal_key


def op_sign(req: typing.Dict[str, typing.Any]) -> typing.Dict[str, typing.Any]:
    flags, seq_num, message, sign_key, seal_key = _sign_inputs(req)
    handle = crypto.rc4init(seal_key)
    signature = security.sign(flags, handle, sign_key, seq_num, message)
    return {
        "signature": h(signature),
        "sign_key": h(sign_key),
        "seal_key": h(seal_key),
        "source": "spnego._ntlm_raw.security.sign",
    }


def op_seal(req: typing.Dict[str, typing.Any]) -> typing.Dict[str, typing.Any]:
    flags, seq_num, message, sign_key, seal_key = _sign_inputs(req)
    handle = crypto.rc4init(seal_key)
    sealed, signature = security.seal(flags, handle, sign_key, seq_num, message)
    return {
        "sealed_message": h(sealed),
        "signature": h(signature),
        "sign_key": h(sign_key),
        "seal_key": h(seal_key),
        "source": "spnego._ntlm_raw.security.seal",
    }


# ---------------------------------------------------------------------------------------------
# Parsing


def _target_info_pairs(ti: typing.Optional[TargetInfo]) -> typing.Optional[typing.List[typing.Dict[str, typing.Any]]]:
    if ti is None:
        return None
    pairs = []
    for av_id, value in ti.items():
        av = int(av_id)
        try:
            name = AvId(av).name
        except ValueError:
            name = None
        if isinstance(value, str):
            decoded: typing.Any = value
            raw = value.encode("utf-16-le")
        elif isinstance(value, bytes):
            decoded = value.hex()
            raw = value
        elif isinstance(value, int):  # AvFlags
            decoded = int(value)
            raw = struct.pack("<I", int(value))
        elif isinstance(value, FileTime):
            raw = value.pack()
            decoded = struct.unpack("<Q", raw)[0]
        elif hasattr(value, "pack"):  # SingleHost
            raw = value.pack()
            decoded = raw.hex()
        else:
            raw = b""
            decoded = repr(value)
        pairs.append({"id": av, "name": name, "value": decoded, "value_hex": raw.hex()})
    return pairs


def _ntlm_summary(msg: NTLMMessage) -> typing.Dict[str, typing.Any]:
    out: typing.Dict[str, typing.Any] = {"message_type": msg.MESSAGE_TYPE}
    version = getattr(msg, "version", None)
    out["version"] = h(version.pack()) if version is not None else None
    if isinstance(msg, Negotiate):
        out.update(flags=int(msg.flags), domain=msg.domain_name, workstation=msg.workstation)
    elif isinstance(msg, Challenge):
        out.update(
            flags=int(msg.flags),
            target_name=msg.target_name,
            server_challenge=h(msg.server_challenge),
            target_info=_target_info_pairs(msg.target_info),
        )
    elif isinstance(msg, Authenticate):
        nt = msg.nt_challenge_response
        ti = None
        if nt and len(nt) > 24:
            try:
                ti = _target_info_pairs(TargetInfo.unpack(nt[44:]))
            except Exception:
                ti = None
        out.update(
            flags=int(msg.flags),
            domain=msg.domain_name,
            user=msg.user_name,
            workstation=msg.workstation,
            lm_response=h(msg.lm_challenge_response),
            nt_response=h(nt),
            encrypted_session_key=h(msg.encrypted_random_session_key),
            mic=h(msg.mic),
            target_info=ti,
        )
    return out


def op_parse(req: typing.Dict[str, typing.Any]) -> typing.Dict[str, typing.Any]:
    from spnego import __main__ as spnego_cli
    from spnego._spnego import NegTokenInit, NegTokenResp, unpack_token

    token = unhex(req, "token")
    out: typing.Dict[str, typing.Any] = {"spnego": None, "message_type": None}
    inner: typing.Optional[bytes] = token
    if not token.startswith(b"NTLMSSP\x00"):
        obj = unpack_token(token)
        if isinstance(obj, NegTokenInit):
            out["spnego"] = "NegTokenInit"
            out["mech_types"] = list(obj.mech_types)
            inner = obj.mech_token
        elif isinstance(obj, NegTokenResp):
            out["spnego"] = "NegTokenResp"
            out["neg_state"] = None if obj.neg_state is None else int(obj.neg_state)
            out["supported_mech"] = obj.supported_mech
            out["mech_list_mic"] = h(obj.mech_list_mic)
            inner = obj.response_token
        else:
            out["spnego"] = type(obj).__name__
            inner = None
        out["inner_token"] = h(inner)
    if inner and inner.startswith(b"NTLMSSP\x00"):
        out.update(_ntlm_summary(NTLMMessage.unpack(inner)))
    out["pyspnego_dump"] = spnego_cli.parse_token(token)
    return out


# ---------------------------------------------------------------------------------------------
# Stateful contexts


class _Ctx:
    def __init__(self, context: typing.Any, usage: str, env: typing.Dict[str, str]) -> None:
        self.context = context
        self.usage = usage
        self.env = env  # environment variables pyspnego reads while stepping


CONTEXTS: typing.Dict[str, _Ctx] = {}


class _Env:
    """Sets environment variables for the duration of a pyspnego call, then restores them."""

    def __init__(self, values: typing.Dict[str, str]) -> None:
        self.values = values
        self.saved: typing.Dict[str, typing.Optional[str]] = {}

    def __enter__(self) -> None:
        for k, v in self.values.items():
            self.saved[k] = os.environ.get(k)
            os.environ[k] = v

    def __exit__(self, *exc: typing.Any) -> None:
        for k, old in self.saved.items():
            if old is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = old


def _options(protocol: str) -> typing.Tuple[str, typing.Any]:
    if protocol == "ntlm":
        return "ntlm", spnego.NegotiateOptions.use_ntlm
    if protocol == "negotiate":
        # NegotiateProxy for SPNEGO; the inner mechanism is forced to the pure-Python NTLMProxy.
        return "negotiate", spnego.NegotiateOptions.use_negotiate | spnego.NegotiateOptions.use_ntlm
    raise PeerError("protocol must be 'ntlm' or 'negotiate'")


def _bindings(req: typing.Dict[str, typing.Any]) -> typing.Optional[GssChannelBindings]:
    app_data = opt_hex(req, "channel_bindings_app_data")
    return None if app_data is None else GssChannelBindings(application_data=app_data)


def _new_ctx_name(req: typing.Dict[str, typing.Any]) -> str:
    name = text(req, "ctx")
    if name in CONTEXTS:
        raise PeerError("context %r already exists" % name)
    return name


def _get_ctx(req: typing.Dict[str, typing.Any], usage: str) -> _Ctx:
    name = text(req, "ctx")
    ctx = CONTEXTS.get(name)
    if ctx is None:
        raise PeerError("no such context %r" % name)
    if ctx.usage != usage:
        raise PeerError("context %r is not a %s context" % (name, usage))
    return ctx


def _ntlm_flags(context: typing.Any) -> typing.Optional[int]:
    inner = context
    if not isinstance(inner, NTLMProxy):
        inner = getattr(context, "_context", None)  # NegotiateProxy -> chosen NTLMProxy
    value = getattr(inner, "_context_attr", None)
    return None if value is None else int(value)


def _completion(context: typing.Any) -> typing.Dict[str, typing.Any]:
    if not context.complete:
        return {}
    out: typing.Dict[str, typing.Any] = {"negotiated_protocol": context.negotiated_protocol}
    try:
        out["session_key"] = h(context.session_key)
    except Exception:
        out["session_key"] = None
    try:
        out["ntlm_flags"] = _ntlm_flags(context)
    except Exception:
        out["ntlm_flags"] = None
    return out


def _common_env(req: typing.Dict[str, typing.Any]) -> typing.Dict[str, str]:
    env: typing.Dict[str, str] = {}
    if req.get("lm_compat_level") is not None:
        env["LM_COMPAT_LEVEL"] = str(integer(req, "lm_compat_level"))
    return env


def op_client_new(req: typing.Dict[str, typing.Any]) -> typing.Dict[str, typing.Any]:
    name = _new_ctx_name(req)
    protocol, options = _options(text(req, "protocol", "ntlm"))
    user = text(req, "user")
    if req.get("nt_hash") is not None:
        credential: typing.Any = spnego.NTLMHash(
            username=user, lm_hash=h(opt_hex(req, "lm_hash")), nt_hash=h(unhex(req, "nt_hash", 16))
        )
        password = None
    else:
        credential = user
        password = text(req, "password")
    env = _common_env(req)
    if req.get("workstation") is not None:
        env["NETBIOS_COMPUTER_NAME"] = text(req, "workstation")
    with _Env(env):
        context = spnego.client(
            credential,
            password,
            hostname=text(req, "hostname", "unspecified"),
            service=text(req, "service", "host"),
            channel_bindings=_bindings(req),
            protocol=protocol,
            options=options,
        )
        token = context.step()
    CONTEXTS[name] = _Ctx(context, "initiate", env)
    return {"ctx": name, "token": h(token), "complete": bool(context.complete)}


def op_client_step(req: typing.Dict[str, typing.Any]) -> typing.Dict[str, typing.Any]:
    ctx = _get_ctx(req, "initiate")
    token = opt_hex(req, "token")
    with _Env(ctx.env):
        out_token = ctx.context.step(token)
    out = {"token": h(out_token), "complete": bool(ctx.context.complete)}
    out.update(_completion(ctx.context))
    return out


def op_server_new(req: typing.Dict[str, typing.Any]) -> typing.Dict[str, typing.Any]:
    name = _new_ctx_name(req)
    protocol, options = _options(text(req, "protocol", "ntlm"))
    user_file = text(req, "user_file")
    if not os.path.isfile(user_file):
        raise PeerError("user_file %r does not exist" % user_file)
    env = _common_env(req)
    env["NTLM_USER_FILE"] = user_file
    # The acceptor reads NTLM_USER_FILE when it is created and again when it checks the
    # Authenticate message: keep it in os.environ (as asked) and re-set it around every step.
    os.environ["NTLM_USER_FILE"] = user_file
    with _Env(env):
        context = spnego.server(
            hostname=text(req, "hostname", "unspecified"),
            service=text(req, "service", "host"),
            channel_bindings=_bindings(req),
            protocol=protocol,
            options=options,
        )
    CONTEXTS[name] = _Ctx(context, "accept", env)
    return {"ctx": name}


def op_server_step(req: typing.Dict[str, typing.Any]) -> typing.Dict[str, typing.Any]:
    ctx = _get_ctx(req, "accept")
    token = unhex(req, "token")
    with _Env(ctx.env):
        out_token = ctx.context.step(token)
    out: typing.Dict[str, typing.Any] = {"token": h(out_token), "complete": bool(ctx.context.complete)}
    if ctx.context.complete:
        out["client_principal"] = ctx.context.client_principal
    out.update(_completion(ctx.context))
    return out


def op_ctx_close(req: typing.Dict[str, typing.Any]) -> typing.Dict[str, typing.Any]:
    return {"closed": CONTEXTS.pop(text(req, "ctx"), None) is not None}


OPS: typing.Dict[str, typing.Callable[[typing.Dict[str, typing.Any]], typing.Dict[str, typing.Any]]] = {
    "ping": op_ping,
    "ntlmv2": op_ntlmv2,
    "ntlmv1": op_ntlmv1,
    "mic": op_mic,
    "encrypt_session_key": op_encrypt_session_key,
    "seal_keys": op_seal_keys,
    "sign": op_sign,
    "seal": op_seal,
    "parse": op_parse,
    "client_new": op_client_new,
    "client_step": op_client_step,
    "server_new": op_server_new,
    "server_step": op_server_step,
    "ctx_close": op_ctx_close,
}


def handle(line: str) -> typing.Dict[str, typing.Any]:
    req_id: typing.Any = None
    try:
        req = json.loads(line)
        if not isinstance(req, dict):
            raise PeerError("request must be a JSON object")
        req_id = req.get("id")
        op = req.get("op")
        fn = OPS.get(op) if isinstance(op, str) else None
        if fn is None:
            raise PeerError("unknown op %r (known: %s)" % (op, ", ".join(sorted(OPS))))
        result = fn(req)
        result["id"] = req_id
        return result
    except Exception as exc:  # every failure is an answer, never an exit
        if os.environ.get("PYSPNEGO_PEER_DEBUG"):
            traceback.print_exc(file=sys.stderr)
        message = str(exc) or type(exc).__name__
        return {"id": req_id, "error": message, "error_type": type(exc).__name__}


def main() -> int:
    out = sys.stdout
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        reply = handle(line)
        try:
            text_out = json.dumps(reply, default=str)
        except Exception as exc:
            text_out = json.dumps({"id": reply.get("id"), "error": "unserialisable reply: %s" % exc})
        out.write(text_out + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
