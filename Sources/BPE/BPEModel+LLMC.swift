// llm.c's tokenizer file for its decoder (`uint32 [20240328, 2, n_tokens, eot_id]` + 252 zero
// slots, then per token a uint8 length and the bytes).

extension BPEModel {
    /// llm.c's tokenizer file (`gpt2_tokenizer.bin` layout, version 2): header of 256 uint32
    /// `[20240328, 2, vocab size, eot id]`, then for each id a uint8 length and the bytes.
    /// A token longer than 255 bytes cannot be written: that is an error.
    public func llmcTokenizerFile(eotID: UInt32) throws -> [UInt8] {
        var header = [UInt32](repeating: 0, count: 256)
        header[0] = 20240328
        header[1] = 2
        header[2] = UInt32(tokens.count)
        header[3] = eotID
        var out = [UInt8]()
        out.reserveCapacity(1024 + tokens.count * 8)
        for v in header { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        for (id, t) in tokens.enumerated() {
            guard t.count <= 255 else { throw TokenizerFileError("llm.c export", "token \(id) is \(t.count) bytes; llm.c stores at most 255") }
            guard !t.isEmpty else { throw TokenizerFileError("llm.c export", "id \(id) is unused; llm.c needs every id up to the vocabulary size") }
            out.append(UInt8(t.count))
            out += t
        }
        return out
    }
}
