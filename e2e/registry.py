"""A small OCI client over http.client for the end-to-end tests: exact control of methods,
headers and bodies (chunked or not), and no retries."""

import base64
import hashlib
import http.client
import json
import urllib.parse

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def errors(self):
        return [e["code"] for e in json.loads(self.body)["errors"]]

    def __repr__(self):
        return f"<{self.status} {dict(self.headers)} {self.body[:300]!r}>"


class Registry:
    def __init__(self, server, password=None):
        self.server = server
        self.authority = server.authority
        self.password = password

    def login(self, account="000000000000", region="us-east-1"):
        status, body = self.server.json("POST", f"/_admin/token?account={account}&region={region}")
        assert status == 200
        self.password = body["password"]
        return self

    def auth_header(self, password=None):
        password = password or self.password
        if password is None:
            return {}
        return {"Authorization": "Basic " + base64.b64encode(f"AWS:{password}".encode()).decode()}

    def request(self, method, path, body=None, headers=None, chunked=False, auth=True):
        host, port = self.authority.split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=120)
        all_headers = dict(self.auth_header() if auth else {})
        all_headers.update(headers or {})
        if chunked:
            connection.putrequest(method, path)
            for k, v in all_headers.items():
                connection.putheader(k, v)
            connection.putheader("Transfer-Encoding", "chunked")
            connection.endheaders()
            for piece in body:
                connection.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            connection.send(b"0\r\n\r\n")
        else:
            connection.request(method, path, body=body, headers=all_headers)
        response = connection.getresponse()
        data = response.read()
        result = Response(response.status, response.headers, data)
        connection.close()
        return result

    # Convenience flows

    def create(self, name):
        status, _ = self.server.json("POST", "/_admin/repositories", {"name": name})
        assert status in (201, 409)

    def start_upload(self, name, query=""):
        r = self.request("POST", f"/v2/{name}/blobs/uploads/{query}")
        return r

    def push_blob(self, name, data):
        d = digest(data)
        r = self.request("POST", f"/v2/{name}/blobs/uploads/?digest={urllib.parse.quote(d)}", body=data)
        assert r.status == 201, r
        return d

    def push_manifest(self, name, reference, manifest, media_type=OCI_MANIFEST):
        raw = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
        return self.request("PUT", f"/v2/{name}/manifests/{reference}", body=raw, headers={"Content-Type": media_type})

    def push_image(self, name, tag, layers=(b"layer one",), config=b'{"architecture":"amd64","os":"linux"}'):
        """Pushes blobs and an OCI image manifest; returns (manifest bytes, digest)."""
        config_digest = self.push_blob(name, config)
        descriptors = []
        for layer in layers:
            descriptors.append({"mediaType": OCI_LAYER, "digest": self.push_blob(name, layer), "size": len(layer)})
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
            "layers": descriptors,
        }).encode()
        r = self.push_manifest(name, tag, manifest)
        assert r.status == 201, r
        return manifest, digest(manifest)
