"""Photos: safe decoding, perceptual hashes (PDQ, pHash, dHash), hash banks and their index."""
