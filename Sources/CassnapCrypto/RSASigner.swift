import COpenSSL
import Foundation

/// RS256 (RSASSA-PKCS1-v1_5 with SHA-256) signatures over libcrypto, for the JWTs that GCS
/// service accounts exchange for access tokens. The key stays inside libcrypto; errors never
/// quote it.
package final class RSASigner: @unchecked Sendable {
    // @unchecked: the EVP_PKEY is immutable after init, and every signature uses its own context.
    private let key: OpaquePointer

    /// Loads a PEM private key: PKCS#8 (`BEGIN PRIVATE KEY`, what service-account JSON keys hold)
    /// or PKCS#1 (`BEGIN RSA PRIVATE KEY`).
    package init(pemPrivateKey pem: String) throws {
        let bytes = Array(pem.utf8)
        guard let bio = bytes.withUnsafeBytes({ BIO_new_mem_buf($0.baseAddress, Int32($0.count)) }) else {
            throw RSASignerError.invalidKey("out of memory")
        }
        defer { BIO_free(bio) }
        guard let pkey = PEM_read_bio_PrivateKey(bio, nil, nil, nil) else {
            ERR_clear_error()
            throw RSASignerError.invalidKey("not a PEM private key")
        }
        guard EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA else {
            EVP_PKEY_free(pkey)
            throw RSASignerError.invalidKey("not an RSA key")
        }
        key = pkey
    }

    deinit { EVP_PKEY_free(key) }

    /// The RS256 signature of `message`.
    package func sign(_ message: some DataProtocol) throws -> [UInt8] {
        guard let ctx = EVP_MD_CTX_new() else { throw RSASignerError.signingFailed("out of memory") }
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestSignInit(ctx, nil, EVP_sha256(), nil, key) == 1 else {
            throw RSASignerError.signingFailed(RSASigner.lastError())
        }
        let input = Array(message)
        var length = 0
        guard EVP_DigestSign(ctx, nil, &length, input, input.count) == 1 else {
            throw RSASignerError.signingFailed(RSASigner.lastError())
        }
        var signature = [UInt8](repeating: 0, count: length)
        guard EVP_DigestSign(ctx, &signature, &length, input, input.count) == 1 else {
            throw RSASignerError.signingFailed(RSASigner.lastError())
        }
        return Array(signature.prefix(length))
    }

    private static func lastError() -> String {
        let code = ERR_get_error()
        ERR_clear_error()
        guard code != 0, let reason = ERR_reason_error_string(code) else { return "libcrypto error" }
        return String(cString: reason)
    }
}

package enum RSASignerError: Error, CustomStringConvertible, Sendable {
    case invalidKey(String)
    case signingFailed(String)

    package var description: String {
        switch self {
        case .invalidKey(let why): "cannot load the RSA private key: \(why)"
        case .signingFailed(let why): "RS256 signing failed: \(why)"
        }
    }
}
