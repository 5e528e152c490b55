import FoundationEssentials
import HTTPTypes
import Hummingbird
import NIOCore

/// The history page, `/_admin/ui/`: three files compiled into the binary (`Page/`), served with
/// a policy that lets them load nothing but themselves and this server's `/_admin` API.
extension AdminController {
    /// The cookie that carries `--admin-token` for the page (a browser cannot send a Bearer header
    /// when it navigates); set by `/_admin/ui/?token=...`, sent only to `/_admin`, never to scripts.
    static let tokenCookie = "stowage-admin"

    /// `GET /_admin/ui/` and `GET /_admin/ui/{asset}`.
    func page(_ request: Request, asset: String) throws -> Response {
        if asset == "index.html", let token = request.uri.queryParameters["token"].map(String.init) {
            // The middleware let it through only with the right token: remember it, and drop it from the address.
            let value = percentEncoded(token)
            return Response(
                status: .seeOther,
                headers: [
                    .location: "/_admin/ui/",
                    .setCookie: "\(Self.tokenCookie)=\(value); Path=/_admin; HttpOnly; SameSite=Strict",
                ])
        }
        let files: [String: (bytes: [UInt8], type: String)] = [
            "index.html": (PackageResources.index_html, "text/html; charset=utf-8"),
            "page.js": (PackageResources.page_js, "text/javascript; charset=utf-8"),
            "page.css": (PackageResources.page_css, "text/css; charset=utf-8"),
        ]
        guard let file = files[asset] else {
            throw AdminError(.notFound, "NotFound", "the page has no file '\(asset)'; open /_admin/ui/")
        }
        return Response(
            status: .ok,
            headers: [
                .contentType: file.type,
                .cacheControl: "no-cache",
                .contentSecurityPolicy:
                    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
                .xContentTypeOptions: "nosniff",
            ],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: file.bytes)))
    }

    /// The token a browser sends: the page's cookie.
    static func cookieToken(_ request: Request) -> String? {
        guard let header = request.headers[.cookie] else { return nil }
        for pair in header.split(separator: ";") {
            let parts = pair.drop { $0 == " " || $0 == "\t" }.split(separator: "=", maxSplits: 1)
            if parts.count == 2, parts[0] == tokenCookie { return String(parts[1]).removingPercentEncoding }
        }
        return nil
    }
}
