"""Small, reproducible initramfs building blocks shared by the lab (L1) and the
test guest (L2).

- kernel_version(): the version of the installed linux-image-amd64 kernel
- resolve_modules(): module names -> .ko paths in load order (deps first),
  using `modinfo -k VER -F depends` and skipping built-ins
- Cpio: a newc ("070701") writer with fixed owners/times, so identical inputs
  give byte-identical archives (gzip header time is 0 too)
- inputs_digest(): a cache key over files (path, size, mtime) and text
"""

import glob
import gzip
import hashlib
import io
import os
import re
import stat
import subprocess

BUSYBOX = "/bin/busybox"


class InitramfsError(Exception):
    pass


def kernel_version():
    """Version string of the installed Debian kernel (e.g. 6.1.0-56-amd64).

    HYVE_LAB_KERNEL_VERSION overrides.  Otherwise the version the
    linux-image-amd64 metapackage depends on, else the newest /boot/vmlinuz-*
    that has a /lib/modules tree."""
    ver = os.environ.get("HYVE_LAB_KERNEL_VERSION")
    if ver:
        return ver
    try:
        dep = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Depends}", "linux-image-amd64"],
            capture_output=True, text=True, check=False).stdout
        m = re.search(r"linux-image-(\S+?)(?:\s|,|$)", dep)
        if m and os.path.exists("/boot/vmlinuz-" + m.group(1)):
            return m.group(1)
    except OSError:
        pass
    cands = []
    for path in glob.glob("/boot/vmlinuz-*"):
        ver = path[len("/boot/vmlinuz-"):]
        if os.path.isdir("/lib/modules/" + ver):
            cands.append((os.stat(path).st_mtime, ver))
    if not cands:
        raise InitramfsError("no /boot/vmlinuz-* with a /lib/modules tree "
                             "(install linux-image-amd64)")
    return sorted(cands)[-1][1]


def kernel_image(ver):
    return "/boot/vmlinuz-" + ver


def extract_vmlinux(bzimage):
    """The ELF vmlinux inside a bzImage (XZ or gzip payload), or None."""
    import lzma
    import struct
    import zlib
    with open(bzimage, "rb") as f:
        data = f.read()
    if len(data) < 0x250 or data[0x202:0x206] != b"HdrS":
        return None
    setup_sects = data[0x1f1] or 4
    off, length = struct.unpack_from("<II", data, 0x248)
    start = (setup_sects + 1) * 512 + off
    payload = data[start:start + length]
    try:
        if payload[:6] == b"\xfd7zXZ\x00":
            raw = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(
                payload)
        elif payload[:2] == b"\x1f\x8b":
            raw = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(payload)
        else:
            return None
    except (lzma.LZMAError, zlib.error):
        return None
    return raw if raw[:4] == b"\x7fELF" else None


def _modinfo(ver, field, name):
    res = subprocess.run(["modinfo", "-k", ver, "-F", field, name],
                         capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise InitramfsError("modinfo %s %s: %s" % (field, name,
                                                    res.stderr.strip()))
    return res.stdout.strip()


def resolve_modules(ver, names, optional=()):
    """Return [(name, path)] in a valid insmod order (dependencies first).

    Modules built into the kernel (modinfo filename "(builtin)", or listed in
    modules.builtin) are skipped.  Names in `optional` are dropped silently if
    the kernel does not have them."""
    builtin = set()
    bpath = "/lib/modules/%s/modules.builtin" % ver
    if os.path.exists(bpath):
        with open(bpath) as f:
            for line in f:
                base = os.path.basename(line.strip())
                if base.endswith(".ko"):
                    builtin.add(base[:-3].replace("-", "_"))
    order = []
    seen = {}

    def visit(name, stack):
        key = name.replace("-", "_")
        if key in seen or key in builtin:
            return
        if key in stack:
            raise InitramfsError("module dependency cycle at " + name)
        try:
            path = _modinfo(ver, "filename", name)
        except InitramfsError:
            if name in optional:
                seen[key] = None
                return
            raise
        if path == "(builtin)" or not path:
            builtin.add(key)
            return
        deps = _modinfo(ver, "depends", name)
        for dep in [d for d in deps.split(",") if d]:
            visit(dep, stack + [key])
        # "softdep: pre: X" modules must be loaded first too (libcrc32c
        # needs a crc32c implementation); they may be aliases.
        for soft in _modinfo(ver, "softdep", name).splitlines():
            words = soft.split()
            pre = words[words.index("pre:") + 1:] if "pre:" in words else []
            if "post:" in pre:
                pre = pre[:pre.index("post:")]
            for dep in pre:
                try:
                    found = _modinfo(ver, "filename", dep).splitlines()
                except InitramfsError:
                    continue
                target = os.path.basename(found[-1]) if found else ""
                if target.endswith(".ko"):
                    visit(target[:-3], stack + [key])
        seen[key] = path
        order.append((key, path))

    for n in names:
        visit(n, [])
    return order


def inputs_digest(files=(), texts=()):
    """Cache key over input files (path, size, mtime) and text blobs."""
    h = hashlib.sha256()
    for path in files:
        st = os.stat(path)
        h.update(("%s\0%d\0%d\0" % (path, st.st_size, st.st_mtime_ns))
                 .encode())
    for text in texts:
        data = text if isinstance(text, bytes) else text.encode()
        h.update(b"%d\0" % len(data))
        h.update(data)
    return h.hexdigest()[:16]


class Cpio:
    """newc cpio archive with deterministic metadata (uid/gid 0, mtime 0)."""

    def __init__(self):
        self._buf = io.BytesIO()
        self._ino = 1
        self._names = set()

    def _entry(self, name, mode, data=b"", nlink=1):
        name = name.lstrip("/")
        if name in self._names:
            raise InitramfsError("duplicate cpio entry " + name)
        self._names.add(name)
        bname = name.encode() + b"\0"
        hdr = "070701" + "".join("%08X" % v for v in (
            self._ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0,
            len(bname), 0))
        self._ino += 1
        out = self._buf
        out.write(hdr.encode())
        out.write(bname)
        out.write(b"\0" * ((4 - (110 + len(bname)) % 4) % 4))
        out.write(data)
        out.write(b"\0" * ((4 - len(data) % 4) % 4))

    def mkdir(self, name, mode=0o755):
        parts = name.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            if sub not in self._names:
                self._entry(sub, stat.S_IFDIR | mode, nlink=2)

    def _parent(self, name):
        parent = os.path.dirname(name.strip("/"))
        if parent:
            self.mkdir(parent)

    def add_bytes(self, name, data, mode=0o644):
        self._parent(name)
        if isinstance(data, str):
            data = data.encode()
        self._entry(name, stat.S_IFREG | mode, data)

    def add_file(self, name, src, mode=None):
        with open(src, "rb") as f:
            data = f.read()
        if mode is None:
            mode = 0o755 if os.stat(src).st_mode & 0o111 else 0o644
        self.add_bytes(name, data, mode)

    def symlink(self, name, target):
        self._parent(name)
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def nod(self, name, mode, major, minor):
        # Device nodes: rdev fields are at index 9/10 of the header; the
        # archive only needs /dev/console for the kernel's early open.
        self._parent(name)
        name = name.lstrip("/")
        self._names.add(name)
        bname = name.encode() + b"\0"
        hdr = "070701" + "".join("%08X" % v for v in (
            self._ino, mode, 0, 0, 1, 0, 0, 0, 0, major, minor,
            len(bname), 0))
        self._ino += 1
        self._buf.write(hdr.encode() + bname)
        self._buf.write(b"\0" * ((4 - (110 + len(bname)) % 4) % 4))

    def add_busybox(self, src=BUSYBOX, bindir="bin"):
        """busybox plus one symlink per applet (from `busybox --list`)."""
        self.add_file(bindir + "/busybox", src, 0o755)
        applets = subprocess.run([src, "--list"], capture_output=True,
                                 text=True, check=True).stdout.split()
        for applet in sorted(applets):
            if applet not in ("busybox",) and "/" not in applet:
                self.symlink("%s/%s" % (bindir, applet), "busybox")
        if bindir == "bin":
            self.symlink("sbin", "bin")
        return applets

    def finish(self):
        self._entry("TRAILER!!!", 0, nlink=1)
        data = self._buf.getvalue()
        return data + b"\0" * ((512 - len(data) % 512) % 512)

    def gzip(self):
        raw = self.finish()
        out = io.BytesIO()
        with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=6,
                           mtime=0, filename="") as gz:
            gz.write(raw)
        return out.getvalue()


def write_atomic(path, data):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
