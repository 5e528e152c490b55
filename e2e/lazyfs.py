"""A file system that forgets what was not made durable, for power-loss tests (as etcd's LazyFS).

Everything lives in memory, twice: what programs see, and what a power cut would leave. A
file's bytes become durable when the file is fsynced; a directory's entries (new, renamed,
linked or removed names) when the directory is fsynced. `mkdir <mount>/.power-loss` is the
power cut: every directory and file goes back to what was durable, and anything no durable
name reaches is gone. The kernel caches nothing (direct I/O, no attribute or entry caching), so
what programs see after the cut is exactly what the model kept.

Run: python3 lazyfs.py MOUNTPOINT  (foreground; unmount with fusermount3 -u MOUNTPOINT)
"""

import errno
import os
import stat
import sys
import threading
import time

import mfusepy as fuse

POWER_LOSS = "/.power-loss"


class Node:
    def __init__(self, directory):
        self.directory = directory
        self.data = bytearray()  # what programs see
        self.durable_data = b""  # what survives a power cut
        self.entries = {} if directory else None
        self.durable_entries = {} if directory else None
        self.mtime = time.time()


class LazyFS(fuse.Operations):
    use_ns = True

    def __init__(self):
        self.root = Node(True)
        self.handles = {}
        self.next_handle = 1
        self.mutex = threading.RLock()
        self.power_losses = 0

    # Lookup

    def node(self, path):
        node = self.root
        for part in [p for p in path.split("/") if p]:
            if not node.directory or part not in node.entries:
                raise fuse.FuseOSError(errno.ENOENT)
            node = node.entries[part]
        return node

    def parent(self, path):
        head, name = os.path.split(path.rstrip("/"))
        parent = self.node(head or "/")
        if not parent.directory:
            raise fuse.FuseOSError(errno.ENOTDIR)
        return parent, name

    def handle(self, node):
        fh = self.next_handle
        self.next_handle += 1
        self.handles[fh] = node
        return fh

    def by_handle(self, path, fh):
        return self.handles.get(fh) if fh else self.node(path)

    # The power cut

    def lose_power(self):
        """Every node reachable through durable names becomes what was durable; the rest goes."""
        seen = set()

        def restore(node):
            if id(node) in seen:
                return
            seen.add(id(node))
            if node.directory:
                node.entries = dict(node.durable_entries)
                for child in node.entries.values():
                    restore(child)
            else:
                node.data = bytearray(node.durable_data)

        restore(self.root)
        self.handles.clear()
        self.power_losses += 1

    # Operations

    def getattr(self, path, fh=None):
        with self.mutex:
            node = self.by_handle(path, fh)
            if node is None:
                raise fuse.FuseOSError(errno.EBADF)
            ns = int(node.mtime * 1e9)
            if node.directory:
                return {"st_mode": stat.S_IFDIR | 0o755, "st_nlink": 2, "st_size": 4096, "st_mtime": ns,
                        "st_atime": ns, "st_ctime": ns, "st_uid": os.getuid(), "st_gid": os.getgid()}
            return {"st_mode": stat.S_IFREG | 0o644, "st_nlink": 1, "st_size": len(node.data), "st_mtime": ns,
                    "st_atime": ns, "st_ctime": ns, "st_uid": os.getuid(), "st_gid": os.getgid(),
                    "st_blocks": (len(node.data) + 511) // 512}

    def readdir(self, path, fh):
        with self.mutex:
            node = self.node(path)
            return [".", ".."] + list(node.entries)

    def mkdir(self, path, mode):
        with self.mutex:
            if path == POWER_LOSS:
                self.lose_power()
                return 0
            parent, name = self.parent(path)
            if name in parent.entries:
                raise fuse.FuseOSError(errno.EEXIST)
            parent.entries[name] = Node(True)
            parent.mtime = time.time()
            return 0

    def rmdir(self, path):
        with self.mutex:
            parent, name = self.parent(path)
            node = parent.entries.get(name)
            if node is None:
                raise fuse.FuseOSError(errno.ENOENT)
            if node.entries:
                raise fuse.FuseOSError(errno.ENOTEMPTY)
            del parent.entries[name]
            return 0

    def create(self, path, mode, fi=None):
        with self.mutex:
            parent, name = self.parent(path)
            node = parent.entries.get(name)
            if node is None:
                node = Node(False)
                parent.entries[name] = node
                parent.mtime = time.time()
            return self.handle(node)

    def open(self, path, flags):
        with self.mutex:
            node = self.node(path)
            if flags & os.O_TRUNC:
                node.data = bytearray()
            return self.handle(node)

    def opendir(self, path):
        with self.mutex:
            return self.handle(self.node(path))

    def release(self, path, fh):
        with self.mutex:
            self.handles.pop(fh, None)
            return 0

    def releasedir(self, path, fh):
        return self.release(path, fh)

    def read(self, path, size, offset, fh):
        with self.mutex:
            node = self.by_handle(path, fh)
            return bytes(node.data[offset:offset + size])

    def write(self, path, data, offset, fh):
        with self.mutex:
            node = self.by_handle(path, fh)
            if node is None:
                raise fuse.FuseOSError(errno.EBADF)
            if len(node.data) < offset:
                node.data.extend(b"\0" * (offset - len(node.data)))
            node.data[offset:offset + len(data)] = data
            node.mtime = time.time()
            return len(data)

    def truncate(self, path, length, fh=None):
        with self.mutex:
            node = self.by_handle(path, fh)
            if length < len(node.data):
                del node.data[length:]
            else:
                node.data.extend(b"\0" * (length - len(node.data)))
            return 0

    def unlink(self, path):
        with self.mutex:
            parent, name = self.parent(path)
            if name not in parent.entries:
                raise fuse.FuseOSError(errno.ENOENT)
            del parent.entries[name]
            return 0

    def rename(self, old, new):
        with self.mutex:
            source, old_name = self.parent(old)
            target, new_name = self.parent(new)
            if old_name not in source.entries:
                raise fuse.FuseOSError(errno.ENOENT)
            target.entries[new_name] = source.entries.pop(old_name)
            return 0

    def link(self, target, source):
        with self.mutex:
            node = self.node(source)
            parent, name = self.parent(target)
            if name in parent.entries:
                raise fuse.FuseOSError(errno.EEXIST)
            parent.entries[name] = node
            return 0

    def fsync(self, path, datasync, fh):
        with self.mutex:
            node = self.by_handle(path, fh)
            node.durable_data = bytes(node.data)
            return 0

    def fsyncdir(self, path, datasync, fh):
        with self.mutex:
            node = self.by_handle(path, fh)
            node.durable_entries = dict(node.entries)
            return 0

    def flush(self, path, fh):
        return 0

    def chmod(self, path, mode):
        return 0

    def chown(self, path, uid, gid):
        return 0

    def utimens(self, path, times=None):
        return 0

    def access(self, path, amode):
        return 0

    def statfs(self, path):
        return {"f_bsize": 4096, "f_frsize": 4096, "f_blocks": 1 << 22, "f_bfree": 1 << 21, "f_bavail": 1 << 21,
                "f_files": 1 << 20, "f_ffree": 1 << 19, "f_namemax": 255}


if __name__ == "__main__":
    fuse.FUSE(LazyFS(), sys.argv[1], foreground=True, nothreads=True, direct_io=True, hard_remove=True,
              entry_timeout=0, attr_timeout=0, negative_timeout=0)
