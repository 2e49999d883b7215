"""Plugin archives: reproducible bytes, and hostile archives refused before anything is written."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qtui.plugins.bundles.archive import ArchiveError, pack, unpack
from qtui.plugins.bundles.manifest import is_ignored_name

LIMIT = 1024 * 1024


def _info(name: str, kind: bytes, **fields: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    for key, value in fields.items():
        setattr(info, key, value)
    return info


def test_pack_is_reproducible_and_lists_folders_before_their_files() -> None:
    files = {"lib/util.lua": b"return 1\n", "init.lua": b"return {}\n", "manifest.toml": b"x"}
    first = pack("hello", files)
    assert pack("hello", dict(reversed(list(files.items())))) == first
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == [
        "hello", "hello/init.lua", "hello/lib", "hello/lib/util.lua", "hello/manifest.toml",
    ]
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "", "")}
    assert {m.name: m.mode for m in members}["hello/lib"] == 0o755
    assert {m.name: m.mode for m in members}["hello/init.lua"] == 0o644
    assert first[3] == 0 and first[4:8] == bytes(4)  # gzip header: no file name, no time
    assert unpack(first, max_bytes=LIMIT).files == files


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([("hello/../../evil.lua", b"x")], "'hello/../../evil.lua' leads outside the archive ('..')"),
        ([("../hello/init.lua", b"x")], "leads outside the archive"),
        ([("/etc/cron.d/evil", b"x")], "'/etc/cron.d/evil' is an absolute path"),
        ([("hello/a\\..\\..\\b", b"x")], "control character or backslash"),
        ([("hello/\x1b]0;pwned\x07", b"x")], "control character or backslash"),
        ([("hello/init.lua", b"x"), ("other/init.lua", b"x")], "more than one top folder"),
        ([("init.lua", b"x")], "'init.lua' is not inside a folder"),
        ([("hello/init.lua", b"x"), ("hello/init.lua", b"y")], "'hello/init.lua' is in the archive twice"),
        ([("hello/lib", b"x"), ("hello/lib/a.lua", b"y")], "'hello/lib' is both a file and a folder"),
    ],
)
def test_unsafe_names_are_refused(make_tar, members, message: str) -> None:
    with pytest.raises(ArchiveError, match=message.replace("(", r"\(").replace(")", r"\)")):
        unpack(make_tar(members), max_bytes=LIMIT)


@pytest.mark.parametrize(
    ("member", "message"),
    [
        (_info("hello/init.lua", tarfile.SYMTYPE, linkname="/etc/passwd"), "is a link"),
        (_info("hello/init.lua", tarfile.LNKTYPE, linkname="hello/manifest.toml"), "is a link"),
        (_info("hello/tty", tarfile.CHRTYPE, devmajor=5, devminor=0), "is a device file or pipe"),
        (_info("hello/disk", tarfile.BLKTYPE, devmajor=8, devminor=0), "is a device file or pipe"),
        (_info("hello/fifo", tarfile.FIFOTYPE), "is a device file or pipe"),
    ],
    ids=["symlink", "hardlink", "char-device", "block-device", "fifo"],
)
def test_links_and_special_files_are_refused(make_tar, member: tarfile.TarInfo, message: str) -> None:
    data = make_tar([("hello/manifest.toml", b"x"), member])
    with pytest.raises(ArchiveError, match=message):
        unpack(data, max_bytes=LIMIT)


def test_a_small_archive_that_unpacks_to_a_huge_file_is_stopped_at_the_cap(make_tar) -> None:
    bomb = make_tar([("hello/init.lua", bytes(40 * LIMIT))])
    assert len(bomb) < LIMIT // 10
    with pytest.raises(ArchiveError, match="unpacks to more than"):
        unpack(bomb, max_bytes=LIMIT)


def test_files_adding_up_to_more_than_the_cap_are_refused(make_tar) -> None:
    data = make_tar([("hello/a.lua", bytes(600_000)), ("hello/b.lua", bytes(600_000))])
    with pytest.raises(ArchiveError, match=f"files add up to more than {LIMIT} bytes"):
        unpack(data, max_bytes=LIMIT)


def test_too_many_files_are_refused(make_tar) -> None:
    data = make_tar([(f"hello/{i}.lua", b"") for i in range(11)])
    with pytest.raises(ArchiveError, match="more than 10 entries"):
        unpack(data, max_bytes=LIMIT, max_files=10)


def test_hidden_and_temporary_files_are_left_out(make_tar) -> None:
    data = make_tar([("./hello/init.lua", b"1"), ("hello/.git/config", b"2"), ("hello/init.lua~", b"3"),
                     ("hello/.env", b"4")])
    assert unpack(data, max_bytes=LIMIT).files == {"init.lua": b"1"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"PK\x03\x04 a zip file", "not a gzip-compressed tar archive"),
        (gzip.compress(b"not a tar archive" * 100), "damaged tar data"),
        (b"\x1f\x8b\x08\x00garbage", "damaged gzip data"),
        (gzip.compress(b"")[:-4], "damaged gzip data"),
        (gzip.compress(bytes(10240)), "is empty"),
    ],
    ids=["zip", "not-tar", "bad-gzip", "truncated-gzip", "empty"],
)
def test_damaged_archives_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(ArchiveError, match=message):
        unpack(data, max_bytes=LIMIT)


_segment = st.text(alphabet="abcz09-_.", min_size=1, max_size=8).filter(lambda s: s not in (".", ".."))
_relative = st.lists(_segment, min_size=1, max_size=3).map("/".join)


@given(st.dictionaries(_relative, st.binary(max_size=64), min_size=1, max_size=8))
def test_unpack_gives_back_what_pack_put_in_minus_ignored_names(files: dict[str, bytes]) -> None:
    parents = {"/".join(p.split("/")[:end]) for p in files for end in range(1, p.count("/") + 1)}
    if parents & files.keys():
        return  # a path that is both a file and a folder cannot be packed
    data = pack("top", files)
    assert pack("top", files) == data
    result = unpack(data, max_bytes=LIMIT)
    assert result.top == "top"
    kept = {p: c for p, c in files.items() if not any(is_ignored_name(s) for s in p.split("/"))}
    assert result.files == kept


_hostile_name = st.lists(
    st.sampled_from(["hello", "..", ".", "", "a", "/", "b\\c", ".hidden", "x~"]), min_size=1, max_size=5
).map("/".join)
_kind = st.sampled_from([tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE])


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=200)
@given(st.lists(st.tuples(_hostile_name, _kind, st.binary(max_size=16)), min_size=1, max_size=6))
def test_whatever_the_members_every_file_returned_is_a_plain_relative_path(make_tar, members) -> None:
    infos: list[tarfile.TarInfo | tuple[str, bytes]] = []
    for name, kind, content in members:
        if kind == tarfile.REGTYPE:
            infos.append((name, content))
        else:
            infos.append(_info(name, kind, linkname="../../etc/passwd"))
    try:
        result = unpack(make_tar(infos), max_bytes=LIMIT)
    except ArchiveError:
        return
    for path in result.files:
        parts = path.split("/")
        assert not path.startswith("/") and ".." not in parts and "" not in parts and "\\" not in path


@given(st.data())
def test_corrupted_archives_raise_only_archive_errors(data: st.DataObject) -> None:
    archive = bytearray(pack("hello", {"init.lua": b"return {}\n" * 20, "lib/a.lua": b"x" * 300}))
    for _ in range(data.draw(st.integers(1, 8))):
        archive[data.draw(st.integers(0, len(archive) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(2, len(archive)))
    try:
        unpack(bytes(archive[:cut]), max_bytes=LIMIT)
    except ArchiveError:
        pass
