"""Tubes: names, use/watch/ignore, lifetime, list order, and pause.

Facts pinned here (beanstalkd 1.12):
- A tube name is 1-200 characters from A-Z a-z 0-9 - + / ; . $ _ ( ) and must not start
  with '-'; anything else is BAD_FORMAT. Only use and watch create tubes.
- A tube lives while some connection uses it, watches it, or it holds a job in any state;
  `default` lives forever. A freed tube's slot in the tube list (and a removed entry of a
  watch list) is filled by the last entry.
- pause-tube only stops jobs of that tube from being handed out by reserve.
"""

import greenstalk
import pytest

from tests.behaviour_util import raises_after, timed

GOOD_NAMES = [
    "foo-",
    "a.b",
    "a$b",
    "a_b",
    "x_y",
    "(x)+;/",
    "9lives",
    "$",
    ".",
    "+",
    "/",
    ";",
    "_",
    "ABCxyz019",
    "n" * 200,
]

BAD_NAMES = [
    "-foo",
    "-",
    "n" * 201,
    "a b",
    "a:b",
    "a@b",
    "a#b",
    "a,b",
    "a!b",
    "a~b",
    "a*b",
    "a=b",
    "a\tb",
    "a'b",
    "",
    " foo",
    "foo ",
]


def test_valid_tube_names_are_accepted_by_use_and_watch(backend):
    """Every allowed character, single-character names and a 200-character name work."""
    c = backend.client()
    for i, name in enumerate(GOOD_NAMES):
        c.use(name)
        assert c.using() == name
        assert c.watch(name) == i + 2
        assert c.stats_tube(name)["current-using"] == 1
    assert sorted(c.watching()) == sorted(["default", *GOOD_NAMES])
    assert set(c.tubes()) == {"default", *GOOD_NAMES}


@pytest.mark.parametrize("command", ["use", "watch", "ignore", "stats_tube"])
def test_invalid_tube_names_are_bad_format(backend, command):
    """Bad characters, a leading '-', an empty name, spaces and 201 characters are
    BAD_FORMAT for use, watch, ignore and stats-tube; nothing is created or changed."""
    c = backend.client()
    for name in BAD_NAMES:
        with pytest.raises(greenstalk.BadFormatError):
            getattr(c, command)(name)
    assert c.using() == "default"
    assert c.watching() == ["default"]
    assert c.tubes() == ["default"]


def test_non_ascii_tube_names_fail_in_the_client(backend):
    """greenstalk encodes tube names as ASCII, so 'café' never reaches the server."""
    c = backend.client()
    with pytest.raises(UnicodeEncodeError):
        c.watch("café")
    with pytest.raises(UnicodeEncodeError):
        c.use("café")
    assert c.watching() == ["default"]


def test_a_command_line_over_224_bytes_is_bad_format_and_the_connection_recovers(backend):
    """A 500-character tube name makes the line too long: BAD_FORMAT, and the next command
    on the same connection works normally."""
    c = backend.client()
    with pytest.raises(greenstalk.BadFormatError):
        c.use("a" * 500)
    assert c.put("x") == 1
    with pytest.raises(greenstalk.BadFormatError):
        c.stats_tube("b" * 300)
    assert c.using() == "default"


def test_pause_tube_name_rules(backend):
    """pause-tube rejects '-foo' and 201-character names; a valid name of a missing tube is
    NOT_FOUND; a 200-character name with the largest delay fills the longest allowed line
    (224 bytes) and is PAUSED."""
    c = backend.client()
    with pytest.raises(greenstalk.BadFormatError):
        c.pause_tube("-foo", 5)
    with pytest.raises(greenstalk.BadFormatError):
        c.pause_tube("n" * 201, 5)
    with pytest.raises(greenstalk.NotFoundError):
        c.pause_tube("a.b", 7)
    with pytest.raises(greenstalk.NotFoundError):
        c.pause_tube("n" * 200, 2**32 - 1)
    c.use("n" * 200)
    c.pause_tube("n" * 200, 2**32 - 1)
    st = c.stats_tube("n" * 200)
    assert (st["pause"], st["cmd-pause-tube"]) == (2**32 - 1, 1)
    with pytest.raises(greenstalk.BadFormatError):
        c.pause_tube("default", 2**32)
    with pytest.raises(greenstalk.BadFormatError):
        c.pause_tube("default", -1)


def test_watch_and_ignore_counts(backend):
    """Watching a tube twice keeps the count; ignoring an unwatched or missing tube returns
    the count unchanged without creating it; ignoring the only tube is NOT_IGNORED."""
    c = backend.client()
    assert c.watch("w") == 2
    assert c.watch("w") == 2
    assert c.watching() == ["default", "w"]
    assert c.ignore("not-watched") == 2
    assert "not-watched" not in c.tubes()
    assert c.ignore("default") == 1
    with pytest.raises(greenstalk.NotIgnoredError):
        c.ignore("w")
    assert c.watching() == ["w"]


def test_list_tubes_used_and_watched(backend):
    """list-tubes in creation order; list-tube-used; list-tubes-watched; ignoring default
    leaves [w]; ignoring the last tube is NOT_IGNORED."""
    c = backend.client()
    c.watch("w")
    c.use("u")
    assert c.tubes() == ["default", "w", "u"]
    assert c.using() == "u"
    assert c.watching() == ["default", "w"]
    c.ignore("default")
    assert c.watching() == ["w"]
    with pytest.raises(greenstalk.NotIgnoredError):
        c.ignore("w")


def test_freeing_a_tube_moves_the_last_tube_into_its_slot(backend):
    """Tubes default zz w2 x1 ta tb tc; freeing ta gives default zz w2 x1 tc tb."""
    keep = backend.client()
    for name in ("zz", "w2", "x1"):
        keep.watch(name)
    c = backend.client()
    for name in ("ta", "tb", "tc"):
        c.watch(name)
    assert c.tubes() == ["default", "zz", "w2", "x1", "ta", "tb", "tc"]
    c.ignore("ta")
    assert c.tubes() == ["default", "zz", "w2", "x1", "tc", "tb"]


def test_ignoring_moves_the_last_watched_tube_into_the_hole(backend):
    """Watch list default ta tb tc; ignoring default gives tc ta tb."""
    c = backend.client()
    for name in ("ta", "tb", "tc"):
        c.watch(name)
    assert c.watching() == ["default", "ta", "tb", "tc"]
    c.ignore("default")
    assert c.watching() == ["tc", "ta", "tb"]


def test_client_watch_list_order_after_construction(backend):
    """Client(use='x', watch=['x', 'y']) ends up watching ['y', 'x'] and using 'x';
    watch='x' gives ['x']; a list that includes default keeps default first."""
    c = backend.client(use="x", watch=["x", "y"])
    assert c.watching() == ["y", "x"]
    assert c.using() == "x"
    assert backend.client(watch="x").watching() == ["x"]
    assert backend.client(watch=["default", "x"]).watching() == ["default", "x"]
    only_use = backend.client(use="x")
    assert (only_use.using(), only_use.watching()) == ("x", ["default"])


def test_watching_again_after_ignore_appends_at_the_end(backend):
    """A tube ignored and watched again goes to the end of the watch list."""
    c = backend.client()
    for name in ("a", "b", "c"):
        c.watch(name)
    c.ignore("a")
    assert c.watching() == ["default", "c", "b"]
    assert c.watch("a") == 4
    assert c.watching() == ["default", "c", "b", "a"]


def test_closing_a_connection_frees_several_tubes_with_swap_removal(backend):
    """Tubes default a b c d e f g, where b (used), d and f (watched) belong to one
    connection only: after it closes the list is default a e c g."""
    k = backend.client()
    v = backend.client()
    k.watch("a")
    v.use("b")
    k.watch("c")
    v.watch("d")
    k.watch("e")
    v.watch("f")
    k.watch("g")
    assert k.tubes() == ["default", "a", "b", "c", "d", "e", "f", "g"]
    backend.close(v)
    backend.sleep(0.05)
    assert k.tubes() == ["default", "a", "e", "c", "g"]


def test_a_tube_lives_while_used_or_watched(backend):
    """A tube disappears as soon as its last user or watcher leaves it."""
    c = backend.client()
    c.use("u")
    c.watch("w")
    assert c.tubes() == ["default", "u", "w"]
    c.use("default")
    assert c.tubes() == ["default", "w"]
    with pytest.raises(greenstalk.NotFoundError):
        c.stats_tube("u")
    c.ignore("w")
    assert c.tubes() == ["default"]
    assert c.stats()["current-tubes"] == 1


def test_closing_a_connection_frees_the_tubes_only_it_referenced(backend):
    """A tube used and watched only by a connection that closes is freed."""
    observer = backend.client()
    c = backend.client(use="gone", watch=["gone", "also-gone"])
    assert set(observer.tubes()) == {"default", "gone", "also-gone"}
    backend.close(c)
    backend.sleep(0.05)
    assert observer.tubes() == ["default"]


def test_default_tube_is_never_freed(backend):
    """With no connection using or watching default and no job in it, it is still listed."""
    first = backend.client(use="a", watch="a")
    backend.client(use="b", watch="b")
    assert first.tubes()[0] == "default"
    st = first.stats_tube("default")
    assert (st["current-using"], st["current-watching"]) == (0, 0)


def test_pause_holds_back_one_tube_until_it_ends(backend):
    """t1 (pri 1) paused 2 s, t2 (pri 100): reserve takes t2's job at once; stats-tube shows
    pause 2, pause-time-left 1; a reserve-with-timeout 5 gets t1's job when the pause ends
    (about 2 s); afterwards pause is 0."""
    p = backend.client()
    p.use("t1")
    p.put("t1-p1", priority=1)
    p.use("t2")
    p.put("t2-p100", priority=100)
    w = backend.client(watch=["t1", "t2"])
    t0 = backend.now()
    p.pause_tube("t1", 2)
    assert w.reserve(timeout=0).body == "t2-p100"
    st = p.stats_tube("t1")
    assert (st["pause"], st["pause-time-left"]) == (2, 1)
    job = w.reserve(timeout=5)
    elapsed = backend.now() - t0
    assert job.body == "t1-p1"
    assert 1.8 <= elapsed <= 2.6
    st = p.stats_tube("t1")
    assert (st["pause"], st["pause-time-left"]) == (0, 0)


def test_unpause_with_zero_lets_reserve_take_the_job(backend):
    """A tube paused for a day serves reserve again right after pause-tube <tube> 0."""
    c = backend.client()
    c.put("x")
    c.pause_tube("default", 86400)
    raises_after(backend, greenstalk.TimedOutError, c.reserve, timeout=0)
    c.pause_tube("default", 0)
    assert c.reserve(timeout=0).id == 1


def test_a_new_pause_overwrites_the_old_one(backend):
    """pause-tube 100 followed by pause-tube 1: the job comes out after about 1 s."""
    c = backend.client()
    c.put("x")
    c.pause_tube("default", 100)
    c.pause_tube("default", 1)
    assert c.stats_tube("default")["pause"] == 1
    job, elapsed = timed(backend, c.reserve, timeout=5)
    assert job.id == 1
    assert 0.8 <= elapsed <= 1.5


def test_pause_of_one_tube_leaves_other_tubes_alone(backend):
    """Pausing tube a does not stop reserve from taking jobs of tube b."""
    p = backend.client(use="a")
    p.put("in-a", priority=0)
    p.use("b")
    p.put("in-b", priority=9)
    p.pause_tube("a", 100)
    w = backend.client(watch=["a", "b"])
    assert w.reserve(timeout=0).body == "in-b"
    raises_after(backend, greenstalk.TimedOutError, w.reserve, timeout=0)


def test_a_closed_connections_reserved_job_keeps_its_tube_alive(backend):
    """A tube used only by a connection that closes while holding one of its jobs stays,
    because the job (now ready again) still lives in it."""
    observer = backend.client()
    c = backend.client(use="mine", watch="mine")
    c.put("x")
    c.reserve(timeout=0)
    backend.close(c)
    backend.sleep(0.05)
    assert "mine" in observer.tubes()
    st = observer.stats_tube("mine")
    assert (st["current-jobs-ready"], st["current-using"], st["current-watching"]) == (1, 0, 0)
