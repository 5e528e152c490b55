/// `text` with every byte but RFC 3986's unreserved ones (`A-Z a-z 0-9 - . _ ~`) written `%XX`:
/// safe in a path segment, a query value and a cookie.
public func percentEncoded(_ text: String) -> String {
    var output = ""
    output.reserveCapacity(text.utf8.count)
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"):
            output.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            let hex = Array("0123456789ABCDEF".unicodeScalars)
            output.unicodeScalars.append("%")
            output.unicodeScalars.append(hex[Int(byte >> 4)])
            output.unicodeScalars.append(hex[Int(byte & 0xF)])
        }
    }
    return output
}
