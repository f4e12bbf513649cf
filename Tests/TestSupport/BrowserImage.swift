import Foundation

/// A decoded screenshot: 8-bit RGB pixels, row by row.
///
///     let image = try RGBImage.readPNG("shot.png")
///     let inked = image.count(in: (0, 0, 100, 100)) { !RGBImage.isNear($0, (255, 255, 255), 8) }
public struct RGBImage: Sendable {
    public typealias Pixel = (r: UInt8, g: UInt8, b: UInt8)
    public typealias Rect = (x: Int, y: Int, width: Int, height: Int)

    public let width: Int
    public let height: Int
    /// `width × height × 3` bytes.
    public let pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    public func pixel(_ x: Int, _ y: Int) -> Pixel {
        let i = (y * width + x) * 3
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }

    /// Whether each channel of `p` is within `tolerance` of `q`.
    public static func isNear(_ p: Pixel, _ q: Pixel, _ tolerance: Int) -> Bool {
        abs(Int(p.r) - Int(q.r)) <= tolerance && abs(Int(p.g) - Int(q.g)) <= tolerance
            && abs(Int(p.b) - Int(q.b)) <= tolerance
    }

    /// "#2563eb" → (0x25, 0x63, 0xeb).
    public static func color(_ hex: String) -> Pixel {
        let v = UInt32(hex.dropFirst(), radix: 16) ?? 0
        return (UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF))
    }

    /// `rect` cut to the image.
    public func clamped(_ rect: Rect) -> Rect {
        let x0 = max(0, rect.x), y0 = max(0, rect.y)
        let x1 = min(width, rect.x + rect.width), y1 = min(height, rect.y + rect.height)
        return (x0, y0, max(0, x1 - x0), max(0, y1 - y0))
    }

    /// How many pixels in `rect` satisfy `test`.
    public func count(in rect: Rect, where test: (Pixel) -> Bool) -> Int {
        let r = clamped(rect)
        var n = 0
        for y in r.y..<(r.y + r.height) { for x in r.x..<(r.x + r.width) where test(pixel(x, y)) { n += 1 } }
        return n
    }

    /// The smallest rectangle in `rect` holding every pixel that satisfies `test`, or nil.
    public func boundingBox(in rect: Rect, where test: (Pixel) -> Bool) -> Rect? {
        let r = clamped(rect)
        var x0 = Int.max, y0 = Int.max, x1 = -1, y1 = -1
        for y in r.y..<(r.y + r.height) {
            for x in r.x..<(r.x + r.width) where test(pixel(x, y)) {
                x0 = min(x0, x); x1 = max(x1, x); y0 = min(y0, y); y1 = max(y1, y)
            }
        }
        return x1 < 0 ? nil : (x0, y0, x1 - x0 + 1, y1 - y0 + 1)
    }

    /// Decodes a PNG of 8-bit RGB or RGBA pixels, not interlaced (what Chromium writes); alpha is
    /// dropped. Chunks and filters are decoded here; the zlib stream is inflated by python3's zlib.
    public static func readPNG(_ path: String) throws -> RGBImage {
        guard let data = FileManager.default.contents(atPath: path) else { throw PNGError("\(path): cannot read") }
        let bytes = [UInt8](data)
        guard bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else {
            throw PNGError("\(path): not a PNG")
        }
        func u32(_ i: Int) -> Int { Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3]) }
        var width = 0, height = 0, channels = 0
        var compressed: [UInt8] = []
        var at = 8
        while at + 12 <= bytes.count {
            let length = u32(at)
            let type = String(decoding: bytes[(at + 4)..<(at + 8)], as: UTF8.self)
            let body = at + 8
            guard body + length + 4 <= bytes.count else { throw PNGError("\(path): chunk \(type) at offset \(at) is cut short") }
            switch type {
            case "IHDR":
                width = u32(body)
                height = u32(body + 4)
                let depth = bytes[body + 8], colorType = bytes[body + 9], interlace = bytes[body + 12]
                guard depth == 8, colorType == 2 || colorType == 6, interlace == 0 else {
                    throw PNGError("\(path): unsupported PNG (depth \(depth), colour type \(colorType), interlace \(interlace))")
                }
                channels = colorType == 2 ? 3 : 4
            case "IDAT":
                compressed += bytes[body..<(body + length)]
            default:
                break
            }
            at = body + length + 4
            if type == "IEND" { break }
        }
        guard width > 0, height > 0, channels > 0 else { throw PNGError("\(path): no IHDR chunk") }
        let inflated = try Run.python("import sys, zlib; sys.stdout.buffer.write(zlib.decompress(sys.stdin.buffer.read()))",
                                      stdin: compressed)
        guard inflated.status == 0 else { throw PNGError("\(path): zlib: \(inflated.err)") }
        let raw = inflated.stdout
        let stride = width * channels
        guard raw.count == height * (stride + 1) else {
            throw PNGError("\(path): \(raw.count) bytes of pixel data, expected \(height * (stride + 1))")
        }
        var out = [UInt8](repeating: 0, count: width * height * 3)
        var previous = [UInt8](repeating: 0, count: stride), current = previous
        for y in 0..<height {
            let row = y * (stride + 1)
            let filter = raw[row]
            for i in 0..<stride {
                let x = raw[row + 1 + i]
                let a = i >= channels ? Int(current[i - channels]) : 0
                let b = Int(previous[i])
                let c = i >= channels ? Int(previous[i - channels]) : 0
                let predictor: Int
                switch filter {
                case 0: predictor = 0
                case 1: predictor = a
                case 2: predictor = b
                case 3: predictor = (a + b) / 2
                case 4:
                    let p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                    predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c
                default: throw PNGError("\(path): bad filter \(filter) on row \(y)")
                }
                current[i] = x &+ UInt8(truncatingIfNeeded: predictor)
            }
            for px in 0..<width {
                for k in 0..<3 { out[(y * width + px) * 3 + k] = current[px * channels + k] }
            }
            swap(&previous, &current)
        }
        return RGBImage(width: width, height: height, pixels: out)
    }
}

public struct PNGError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
