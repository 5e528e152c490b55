"""Makes container images offline, as OCI image layouts, for the real-client tests."""

import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path


def _blob(layout: Path, data: bytes) -> str:
    hexdigest = hashlib.sha256(data).hexdigest()
    path = layout / "blobs" / "sha256" / hexdigest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return "sha256:" + hexdigest


def make_layout(layout: Path, tag="v1", files=None, seed="stowage") -> dict:
    """Writes an OCI image layout with one gzip layer holding `files` ({path: bytes}).

    Returns the digests and bytes of what it wrote, to compare against what comes back.
    """
    files = files or {"hello.txt": f"hello from {seed}\n".encode(), "random.bin": os.urandom(200_000)}
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mtime = 1_700_000_000
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(content))
    layer_tar = raw.getvalue()
    layer = gzip.compress(layer_tar, mtime=0)
    layout.mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    layer_digest = _blob(layout, layer)
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
        "config": {"Cmd": ["/hello.txt"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer_tar).hexdigest()]},
    }, sort_keys=True).encode()
    config_digest = _blob(layout, config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": len(layer)}],
    }, sort_keys=True).encode()
    manifest_digest = _blob(layout, manifest)
    (layout / "index.json").write_text(json.dumps({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest,
                       "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": tag}}],
    }))
    return {"layer": layer, "layer_digest": layer_digest, "layer_tar": layer_tar, "config": config,
            "config_digest": config_digest, "manifest": manifest, "manifest_digest": manifest_digest, "files": files}


def read_layout(layout: Path, tag=None) -> dict:
    """Reads back the image a client wrote into a layout: its manifest, config and layers."""
    index = json.loads((layout / "index.json").read_text())
    entries = index["manifests"]
    if tag:
        entries = [m for m in entries if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag]
    entry = entries[0]

    def blob(d):
        return (layout / "blobs" / d.split(":")[0] / d.split(":")[1]).read_bytes()

    manifest = blob(entry["digest"])
    parsed = json.loads(manifest)
    return {"manifest": manifest, "config": blob(parsed["config"]["digest"]),
            "layers": [blob(l["digest"]) for l in parsed["layers"]]}


def layer_files(layer: bytes) -> dict:
    """The files in a (gzip) tar layer."""
    data = gzip.decompress(layer) if layer[:2] == b"\x1f\x8b" else layer
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
