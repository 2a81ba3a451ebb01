import CZlib

/// Inflates a raw deflate stream (a zip member, method 8) with the system zlib.
enum RawInflate {
    struct Failure: Error { var message: String }

    /// The stream's output, which must be exactly `size` bytes: a stream that ends early or
    /// would write more is refused (the size was already checked against the memory budget).
    static func inflate(_ input: ArraySlice<UInt8>, size: Int) throws -> [UInt8] {
        var stream = z_stream()
        // Window bits -15: raw deflate, no zlib header (zlib.h, inflateInit2).
        guard inflateInit2_(&stream, -15, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw Failure(message: "cannot start zlib's inflate")
        }
        defer { inflateEnd(&stream) }
        // One spare byte: output beyond the declared size shows as a non-empty spare.
        var output = [UInt8](repeating: 0, count: size + 1)
        var input = Array(input)
        let status: Int32 = input.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                stream.next_in = inBuffer.baseAddress
                stream.next_out = outBuffer.baseAddress
                // avail_in/avail_out are 32-bit: hand over at most 1 GiB at a time.
                let chunk = 1 << 30
                var inputGiven = 0, outputGiven = 0
                var status = Z_OK
                repeat {
                    if stream.avail_in == 0 && inputGiven < inBuffer.count {
                        let n = min(inBuffer.count - inputGiven, chunk)
                        stream.avail_in = uInt(n)
                        inputGiven += n
                    }
                    if stream.avail_out == 0 {
                        guard outputGiven < outBuffer.count else { break }  // full: more than declared
                        let n = min(outBuffer.count - outputGiven, chunk)
                        stream.avail_out = uInt(n)
                        outputGiven += n
                    }
                    status = CZlib.inflate(&stream, Z_NO_FLUSH)
                } while status == Z_OK
                return status
            }
        }
        let written = Int(stream.total_out)
        switch status {
        case Z_STREAM_END:
            guard written == size else {
                throw Failure(message: "inflates to \(written) bytes but the archive declares \(size)")
            }
        case Z_OK, Z_BUF_ERROR:
            if written > size { throw Failure(message: "inflates to more than the \(size) bytes the archive declares") }
            throw Failure(message: "the compressed data ends early (\(written) of \(size) bytes)")
        default:
            let text = stream.msg.map { String(cString: $0) } ?? "error \(status)"
            throw Failure(message: "corrupt deflate data (zlib: \(text))")
        }
        output.removeLast()
        return output
    }
}
