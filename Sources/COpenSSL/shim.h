// libcrypto's EVP interface (Debian's libssl-dev): AES-256-GCM that seals in place, which swift-crypto's API
// cannot (see Sources/AmberStore/Encryption/PayloadSealer.swift).
#include <openssl/evp.h>
#include <openssl/rand.h>
