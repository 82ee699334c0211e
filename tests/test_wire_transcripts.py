"""Raw protocol transcripts, each run on a fresh real beanstalkd AND a fresh `stalksim serve`.

The cases are beanstalkd 1.12's own testserv.c tests that apply without a binlog or a unix
socket (same names), then the parsing quirks of 1.12. Both servers must send the same bytes.
"""

from __future__ import annotations

import pytest

from tests.wireserver import EOF, KINDS, NETS, Timed, Transcript, Yaml, make_server

pytestmark = pytest.mark.real

A, B, C = 0, 1, 2
X200 = b"x" * 200


def put(conn: int, id: int, body: bytes = b"a", pri: int = 0, delay: int = 0,
        ttr: int = 1) -> tuple:
    line = b"put %d %d %d %d\r\n%s\r\n" % (pri, delay, ttr, len(body), body)
    return (conn, line, b"INSERTED %d\r\n" % id)


def cmd(conn: int, line: bytes, reply: object) -> tuple:
    return (conn, line + b"\r\n", reply)


def ok(yaml: bytes) -> bytes:
    return b"OK %d\r\n%s\r\n" % (len(yaml), yaml)


def each(conn: int, lines: list[bytes], reply: bytes) -> list[tuple]:
    return [cmd(conn, line, reply) for line in lines]


def job(word: bytes, id: int, body: bytes = b"a") -> bytes:
    return b"%s %d %d\r\n%s\r\n" % (word, id, len(body), body)


BAD, UNKNOWN, NOT_FOUND = b"BAD_FORMAT\r\n", b"UNKNOWN_COMMAND\r\n", b"NOT_FOUND\r\n"
BAD_IDS = [b"18446744073709551616", b"184467440737095516160000", b"foo111", b"111foo"]

# ---- beanstalkd's testserv.c ------------------------------------------------------------
TESTSERV: dict[str, tuple[list[str], list[tuple]]] = {
    "unknown_command": ([], [cmd(A, b"nont10knowncommand", UNKNOWN)]),
    "too_long_commandline": ([], [cmd(A, b"x" * 500, BAD), put(A, 1)]),
    "put_in_drain": ([], [("drain",), (A, b"put 0 0 0 1\r\nx\r\n", b"DRAINING\r\n")]),
    "peek_ok": ([], [put(A, 1), cmd(A, b"peek 1", job(b"FOUND", 1))]),
    "peek_not_found": ([], [put(A, 1), cmd(A, b"peek 2", NOT_FOUND),
                            cmd(A, b"peek 18446744073709551615", NOT_FOUND)]),
    "peek_bad_format": ([], each(A, [b"peek " + i for i in BAD_IDS], BAD)),
    "peek_delayed": ([], [
        cmd(A, b"peek-delayed", NOT_FOUND), put(A, 1, b"A"), put(A, 2, b"B", delay=99),
        put(A, 3, b"C", delay=1), cmd(A, b"peek-delayed", job(b"FOUND", 3, b"C")),
        cmd(A, b"delete 3", b"DELETED\r\n"), cmd(A, b"peek-delayed", job(b"FOUND", 2, b"B")),
        cmd(A, b"delete 2", b"DELETED\r\n"), cmd(A, b"peek-delayed", NOT_FOUND)]),
    "peek_buried_kick": ([], [
        put(A, 1, b"A"), cmd(A, b"bury 1 1", NOT_FOUND),
        cmd(A, b"reserve", job(b"RESERVED", 1, b"A")),
        cmd(A, b"bury 1 1", b"BURIED\r\n"), cmd(A, b"peek-buried", job(b"FOUND", 1, b"A")),
        cmd(A, b"kick 1", b"KICKED 1\r\n"), cmd(A, b"peek-ready", job(b"FOUND", 1, b"A")),
        cmd(A, b"kick 1", b"KICKED 0\r\n"), cmd(A, b"peek-buried", NOT_FOUND)]),
    "touch_bad_format": ([], each(A, [b"touch a111", b"touch 111a", b"touch !@#"], BAD)),
    "touch_not_found": ([], [cmd(A, b"touch 1", NOT_FOUND), put(A, 1),
                             cmd(A, b"touch 1", NOT_FOUND),
                             cmd(A, b"touch 100000000000000", NOT_FOUND)]),
    "bury_bad_format": ([], each(A, [b"bury 111abc 2", b"bury 111", b"bury 111 222abc",
                                     b"bury 111 -1", b"bury 1 4294967296"], BAD)),
    "kickjob_bad_format": ([], each(A, [b"kick-job a111", b"kick-job 111a", b"kick-job !@#"],
                                    BAD)),
    "kickjob_buried": ([], [
        cmd(A, b"kick-job 100", NOT_FOUND), put(A, 1), cmd(A, b"reserve", job(b"RESERVED", 1)),
        cmd(A, b"bury 1 1", b"BURIED\r\n"), cmd(A, b"kick-job 1", b"KICKED\r\n"),
        cmd(A, b"kick-job 1", NOT_FOUND)]),
    "kickjob_delayed": ([], [
        put(A, 1), put(A, 2, delay=10), cmd(A, b"kick-job 1", NOT_FOUND),
        cmd(A, b"kick-job 2", b"KICKED\r\n"), cmd(A, b"kick-job 2", NOT_FOUND)]),
    "pause": ([], [put(A, 1, b"x"), cmd(A, b"pause-tube default 1", b"PAUSED\r\n"),
                   cmd(A, b"reserve", Timed(job(b"RESERVED", 1, b"x"), 0.95, 2.0))]),
    "underscore": ([], [cmd(A, b"use x_y", b"USING x_y\r\n")]),
    "2cmdpacket": ([], [(A, b"use a\r\nuse b\r\n", b"USING a\r\nUSING b\r\n")]),
    "too_big": (["-z", "10"], [(A, b"put 0 0 0 11\r\ndelete 9999\r\n", b"JOB_TOO_BIG\r\n"),
                                put(A, 1, b"x")]),
    "job_size_invalid": ([], [
        *each(A, [b"put 0 0 0 4294967296", b"put 0 0 0 10b", b"put 0 0 0 --!@#$%^&&**()0b"],
              BAD), put(A, 1, b"x")]),
    "negative_delay": ([], [(A, b"put 512 -1 100 0\r\n\r\n", BAD + UNKNOWN)]),
    "garbage_priority": ([], [(A, b"put -!@#$%^&*() 0 100 0\r\n\r\n", BAD + UNKNOWN)]),
    "negative_priority": ([], [(A, b"put -1 0 100 0\r\n\r\n", BAD + UNKNOWN)]),
    "max_priority": ([], [(A, b"put 4294967295 0 100 0\r\n\r\n", b"INSERTED 1\r\n")]),
    "too_big_priority": ([], [(A, b"put 4294967296 0 100 0\r\n\r\n", BAD + UNKNOWN)]),
    "delete_ready": ([], [(A, b"put 0 0 0 0\r\n\r\n", b"INSERTED 1\r\n"),
                          cmd(A, b"delete 1", b"DELETED\r\n")]),
    "delete_reserved_by_other": ([], [put(A, 1), cmd(B, b"reserve", job(b"RESERVED", 1)),
                                      cmd(C, b"delete 1", NOT_FOUND)]),
    "delete_bad_format": ([], each(A, [b"delete " + i for i in BAD_IDS], BAD)),
    "multi_tube": ([], [
        cmd(A, b"use abc", b"USING abc\r\n"), put(A, 1, b"", pri=999999),
        cmd(A, b"use def", b"USING def\r\n"), put(A, 2, b"", pri=99),
        cmd(A, b"watch abc", b"WATCHING 2\r\n"), cmd(A, b"watch def", b"WATCHING 3\r\n"),
        cmd(A, b"reserve", job(b"RESERVED", 2, b""))]),
    "omit_time_left": ([], [put(A, 1, ttr=5), cmd(A, b"stats-job 1", Yaml(time_left=0))]),
    "small_delay": ([], [put(A, 1, b"", delay=1)]),
    "zero_delay": ([], [put(A, 1, b"", delay=0)]),
    "delayed_to_ready": ([], [
        put(A, 1, b"", delay=1),
        cmd(A, b"stats", Yaml(current_jobs_ready=0, current_jobs_delayed=1, total_jobs=1)),
        ("sleep", 1.01),
        cmd(A, b"stats", Yaml(current_jobs_ready=1, current_jobs_delayed=0, total_jobs=1))]),
    "statsjob_ck_format": ([], [cmd(A, b"stats-job 111ABC", BAD),
                                cmd(A, b"stats-job 111 222", BAD),
                                cmd(A, b"stats-job 111", NOT_FOUND)]),
    "stats_tube": ([], [
        cmd(A, b"use tubea", b"USING tubea\r\n"), put(A, 1, b"x"),
        cmd(A, b"delete 1", b"DELETED\r\n"),
        cmd(A, b"stats-tube tubea", Yaml(
            name="tubea", current_jobs_urgent=0, current_jobs_ready=0,
            current_jobs_reserved=0, current_jobs_delayed=0, current_jobs_buried=0,
            total_jobs=1, current_using=1, current_watching=0, current_waiting=0,
            cmd_delete=1, cmd_pause_tube=0, pause=0, pause_time_left=0)),
        cmd(A, b"stats-tube default", Yaml(name="default", total_jobs=0, current_using=0,
                                           current_watching=1, cmd_delete=0))]),
    "ttrlarge": ([], [
        step for i, ttr in enumerate([120, 4294, 4295, 4296, 4297, 5000, 21600], 1)
        for step in (put(A, i, ttr=ttr), cmd(A, b"stats-job %d" % i, Yaml(ttr=ttr)))]),
    "ttr_small": ([], [put(A, 1, ttr=0), cmd(A, b"stats-job 1", Yaml(ttr=1))]),
    "reserve_with_timeout_2conns": ([], [
        cmd(A, b"watch foo", b"WATCHING 2\r\n"), cmd(A, b"reserve-with-timeout 1", b""),
        cmd(B, b"watch foo", b"WATCHING 2\r\n"), (A, b"", Timed(b"TIMED_OUT\r\n", 0.5, 1.1))]),
    "reserve_ttr_deadline_soon": ([], [
        put(A, 1), cmd(A, b"reserve-with-timeout 1", job(b"RESERVED", 1)), ("sleep", 0.2),
        cmd(A, b"stats-job 1", Yaml(state="reserved")),
        cmd(A, b"reserve-with-timeout 1", b"DEADLINE_SOON\r\n"),
        cmd(A, b"stats-job 1", Yaml(state="reserved")),
        cmd(A, b"release 1 0 0", b"RELEASED\r\n"), cmd(A, b"stats-job 1", Yaml(state="ready"))]),
    "reserve_job_ttr_deadline_soon": ([], [
        put(A, 1, delay=5), cmd(A, b"reserve-job 1", job(b"RESERVED", 1)),
        cmd(A, b"reserve-with-timeout 1", b"DEADLINE_SOON\r\n"),
        cmd(A, b"stats-job 1", Yaml(state="reserved")), ("sleep", 1.2),
        # a harmless command on the holder, A, works around 1.12's late-TTR quirk
        cmd(A, b"list-tube-used", b"USING default\r\n"), ("sleep", 0.05),
        cmd(B, b"stats-job 1", Yaml(state="ready"))]),
    "reserve_job_already_reserved": ([], [
        put(A, 1), cmd(A, b"reserve-job 1", job(b"RESERVED", 1)),
        cmd(A, b"reserve-job 1", NOT_FOUND)]),
    "reserve_job_ready": ([], [
        put(A, 1, b"A"), put(A, 2, b"B"), cmd(A, b"reserve-job 2", job(b"RESERVED", 2, b"B")),
        cmd(A, b"reserve-job 3", NOT_FOUND), cmd(A, b"release 1 1 0", NOT_FOUND),
        cmd(A, b"release 2 1 0", b"RELEASED\r\n")]),
    "reserve_job_delayed": ([], [
        put(A, 1, pri=1, delay=100), cmd(A, b"reserve-job 1", job(b"RESERVED", 1)),
        cmd(A, b"release 1 1 0", b"RELEASED\r\n"), cmd(A, b"stats-job 1", Yaml(state="ready"))]),
    "reserve_job_buried": ([], [
        put(A, 1, b"A"), put(A, 2, b"B"), cmd(A, b"reserve", job(b"RESERVED", 1, b"A")),
        cmd(A, b"bury 1 1", b"BURIED\r\n"), cmd(A, b"reserve", job(b"RESERVED", 2, b"B")),
        cmd(A, b"bury 2 1", b"BURIED\r\n"), cmd(A, b"reserve-job 2", job(b"RESERVED", 2, b"B")),
        cmd(A, b"reserve-job 1", job(b"RESERVED", 1, b"A")),
        cmd(A, b"release 1 1 0", b"RELEASED\r\n"), cmd(A, b"release 2 1 0", b"RELEASED\r\n"),
        cmd(A, b"stats-job 1", Yaml(state="ready", buries=1, reserves=2)),
        cmd(A, b"stats-job 2", Yaml(state="ready", buries=1, reserves=2))]),
    "release_bad_format": ([], each(A, [b"release %s 1 1" % i for i in BAD_IDS]
                                    + [b"release 1 x 1", b"release 1 1 x", b"release 1 1",
                                       b"release 1 -1 0", b"release 1 1 4294967296"], BAD)),
    "release_not_found": ([], [cmd(A, b"release 1 1 1", NOT_FOUND)]),
    "close_releases_job": ([], [
        put(A, 1, ttr=100), cmd(B, b"reserve", job(b"RESERVED", 1)), ("close", B),
        cmd(A, b"reserve-with-timeout 1", Timed(job(b"RESERVED", 1), 0, 1.0))]),
    "quit_releases_job": ([], [
        put(A, 1, ttr=100), cmd(B, b"reserve", job(b"RESERVED", 1)), cmd(B, b"quit", EOF),
        cmd(A, b"reserve-with-timeout 1", Timed(job(b"RESERVED", 1), 0, 1.0))]),
    "unpause_tube": ([], [
        put(A, 1), cmd(A, b"pause-tube default 86400", b"PAUSED\r\n"), cmd(B, b"reserve", b""),
        cmd(A, b"pause-tube default 0", b"PAUSED\r\n"),
        (B, b"", Timed(job(b"RESERVED", 1), 0, 1.0))]),
    "list_tube": ([], [
        cmd(A, b"watch w", b"WATCHING 2\r\n"), cmd(A, b"use u", b"USING u\r\n"),
        cmd(A, b"list-tubes", ok(b"---\n- default\n- w\n- u\n")),
        cmd(A, b"list-tube-used", b"USING u\r\n"),
        cmd(A, b"list-tubes-watched", ok(b"---\n- default\n- w\n")),
        cmd(A, b"ignore default", b"WATCHING 1\r\n"),
        cmd(A, b"list-tubes-watched", ok(b"---\n- w\n")),
        cmd(A, b"ignore w", b"NOT_IGNORED\r\n")]),
    "use_tube_long": ([], [cmd(A, b"use " + X200, b"USING " + X200 + b"\r\n"),
                           cmd(A, b"use " + X200 + b"x", BAD)]),
    "longest_command": ([], [cmd(A, b"use " + X200, b"USING " + X200 + b"\r\n"),
                             cmd(A, b"pause-tube " + X200 + b" 4294967295", b"PAUSED\r\n")]),
}

# ---- 1.12's parsing quirks (semantics sheet sections 1, 2, 6 and 10 f) ----------------------
LINE_225 = b"use " + b"y" * 219  # 223 bytes + CRLF: the CR is the 224th byte
OK_NAMES = [b"foo-", b"a.b", b"a$b", b"a_b", b"(x)+;/", b"9lives", b"$", b".", b"+", b"/",
            b";", b"_", X200]
BAD_NAMES = [b"-foo", X200 + b"x", b"a b", b"a:b", b"a@b", b"a#b", b"a,b", b"a!b", b"a~b",
             b"a*b", b"a=b", b"a\tb", "café".encode(), b"", b" a", b"a "]
QUIRKS: dict[str, tuple[list[str], list[tuple]]] = {
    "bare_lf_is_not_a_line_end": ([], [
        (A, b"stats\n", b""), (A, b"\r\n", BAD), (A, b"use a\nuse b\r\n", BAD)]),
    "line_225_swallows_next": ([], [
        (A, LINE_225 + b"\r\n", b""), cmd(A, b"list-tube-used", BAD),
        cmd(A, b"list-tube-used", b"USING default\r\n")]),
    "line_226_bad_format": ([], [cmd(A, LINE_225 + b"y", BAD),
                                 cmd(A, b"list-tube-used", b"USING default\r\n")]),
    "line_224_parsed": ([], [cmd(A, b"peek " + b"0" * 216 + b"1", NOT_FOUND)]),
    "stray_cr_stalls_line": ([], [
        (A, b"a\rb\r\nuse x\r\n", b""), (A, b"z" * 300 + b"\r\n", BAD),
        cmd(A, b"list-tube-used", b"USING default\r\n")]),
    "nul_in_line": ([], each(A, [b"use a\0b", b"\0", b"nosuch\0"], BAD)),
    "recognition_bad_format": ([], each(A, [
        b"reserve ", b"reservex", b"reserve-job", b"stats-job", b"stats-tube", b"delete ",
        b"peek-ready x", b"list-tubesx", b"list-tube-usedx", b"stats ", b"peek-buried "], BAD)),
    "recognition_unknown": ([], each(A, [
        b"delete", b"touch", b"watch", b"ignore", b"use", b"kick", b"kick-job", b"peek",
        b"PUT 0 0 0 0", b"", b"Stats", b" stats", b"release", b"bury"], UNKNOWN)),
    "quit_with_garbage": ([], [cmd(A, b"quit x", EOF), cmd(B, b"quitter\r\nstats", EOF)]),
    "integers": ([], [
        *each(A, [b"delete 1 2", b"peek +1", b"delete -1", b"peek \t1", b"peek 1 ",
                  b"stats-job 0x1"], BAD),
        put(A, 1), cmd(A, b"peek    0001", job(b"FOUND", 1)),
        (A, b"put  1  2  3  1\r\nx\r\n", b"INSERTED 2\r\n"),
        (A, b"put 4294967295 4294967295 4294967295 1\r\nx\r\n", b"INSERTED 3\r\n"),
        cmd(A, b"stats-job 3", Yaml(pri=4294967295, delay=4294967295, ttr=4294967295,
                                    time_left=4294967294))]),
    "put_check_order": ([], [
        (A, b"put 0 0 1 70000 x\r\n" + b"y" * 70000 + b"\r\n", b"JOB_TOO_BIG\r\n"),
        (A, b"put 0 0 1 3 x\r\nabc\r\n", BAD + UNKNOWN),
        (A, b"put 0 0 1 3\tx\r\nabc\r\n", BAD + UNKNOWN),
        (A, b"put 0 0 1 3\r\nabcde\r\n", b"EXPECTED_CRLF\r\n" + UNKNOWN),
        (A, b"put 0 0 1 3\r\nabcXYstats-job 1\r\n", b"EXPECTED_CRLF\r\n" + NOT_FOUND),
        put(A, 3, b"ok"), cmd(A, b"stats", Yaml(cmd_put=6, total_jobs=1, current_producers=1))]),
    "put_body_bytes": ([], [
        (A, b"put 0 0 1 8\r\na\0\r\nb\r\r\n\r\n", b"INSERTED 1\r\n"),
        cmd(A, b"peek 1", job(b"FOUND", 1, b"a\0\r\nb\r\r\n")),
        (A, b"put 0 0 1 5\r\nhe", b""), (A, b"ll", b""), (A, b"o\r", b""),
        (A, b"\n", b"INSERTED 2\r\n"), cmd(A, b"peek 2", job(b"FOUND", 2, b"hello"))]),
    "put_ids_taken_at_put_line": ([], [
        (A, b"put 0 0 10 3\r\nab", b""), put(B, 2, b"x"), (A, b"c\r\n", b"INSERTED 1\r\n"),
        (C, b"put 0 0 10 5\r\nab", b""), ("close", C), ("sleep", 0.1), put(B, 4, b"y"),
        cmd(B, b"stats", Yaml(total_jobs=3, current_jobs_ready=3))]),
    "job_too_big_limit": (["-z", "10"], [
        put(A, 1, b"x" * 10), (A, b"put 0 0 1 11 \r\n" + b"z" * 11 + b"\r\n", b"JOB_TOO_BIG\r\n"),
        put(A, 2, b"y"), cmd(A, b"stats", Yaml(max_job_size=10, cmd_put=3))]),
    "max_job_size_capped": (["-z", "2000000000"], [
        cmd(A, b"stats", Yaml(max_job_size=1073741824))]),
    "drain_mode": ([], [
        put(A, 1), ("drain",), (A, b"put 0 0 0 1\r\nx\r\n", b"DRAINING\r\n"),
        cmd(A, b"reserve", job(b"RESERVED", 1)), cmd(A, b"delete 1", b"DELETED\r\n"),
        cmd(A, b"stats", Yaml(draining="true", cmd_put=2, total_jobs=1)),
        (A, b"put 0 0 0 1\r\nx\r\n", b"DRAINING\r\n"), ("sleep", 0.05)]),
    "reserve_timeout_parsing": ([], [
        *each(A, [b"reserve-with-timeout abc", b"reserve-with-timeout ",
                  b"reserve-with-timeout 4294967296", b"reserve-with-timeout +0",
                  b"reserve-with-timeout \t0", b"reserve-with-timeout -0x"], b"TIMED_OUT\r\n"),
        cmd(A, b"reserve-with-timeout 99999999999999999999", BAD),
        cmd(A, b"reserve-with-timeout 1abc", Timed(b"TIMED_OUT\r\n", 0.9, 1.5)),
        cmd(A, b"reserve-with-timeout -1", b""), put(B, 1, ttr=100),
        (A, b"", job(b"RESERVED", 1)),
        cmd(A, b"delete 1", b"DELETED\r\n"),
        cmd(A, b"reserve-with-timeout 2147483648", b""), put(B, 2, ttr=100),
        (A, b"", job(b"RESERVED", 2)),
        cmd(A, b"stats", Yaml(cmd_reserve_with_timeout=9, cmd_reserve=0))]),
    "kick_parsing": ([], [
        *[step for i in (1, 2, 3, 4, 5) for step in (
            put(A, i), cmd(A, b"reserve", job(b"RESERVED", i)),
            cmd(A, b"bury %d 0" % i, b"BURIED\r\n"))],
        cmd(A, b"kick 2abc", b"KICKED 2\r\n"), *each(A, [b"kick abc", b"kick ", b"kick +",
                                                       b"kick 99999999999999999999999"], BAD),
        cmd(A, b"kick", UNKNOWN), cmd(A, b"kick 4294967296", b"KICKED 0\r\n"),
        cmd(A, b"kick \t1", b"KICKED 1\r\n"), cmd(A, b"kick -1", b"KICKED 2\r\n"),
        cmd(A, b"stats", Yaml(cmd_kick=4, current_jobs_ready=5))]),
    "pause_tube_parsing": ([], [
        *each(A, [b"pause-tube  a.b    7", b"pause-tubea.b 7", b"pause-tube " + X200 + b" 1"],
              NOT_FOUND),
        *each(A, [b"pause-tube a.b -1", b"pause-tube a.b 4294967296", b"pause-tube a.b",
                  b"pause-tube", b"pause-tube a.b 1 ", b"pause-tube a.b\t1", b"pause-tube -foo 5",
                  b"pause-tube " + X200 + b"xyz 5"], BAD),
        cmd(A, b"stats", Yaml(cmd_pause_tube=5)),
        cmd(A, b"pause-tube default 0", b"PAUSED\r\n")]),
    "tube_names_ok": ([], [cmd(A, b"use " + n, b"USING " + n + b"\r\n") for n in OK_NAMES]),
    "tube_names_bad": ([], [cmd(A, verb + n, BAD) for n in BAD_NAMES
                            for verb in (b"use ", b"watch ", b"ignore ", b"stats-tube ")]),
    "tube_lifetime_commands": ([], [
        cmd(A, b"ignore nosuch", b"WATCHING 1\r\n"), cmd(A, b"watch t", b"WATCHING 2\r\n"),
        cmd(A, b"watch t", b"WATCHING 2\r\n"), cmd(A, b"stats-tube nosuch", NOT_FOUND),
        cmd(A, b"pause-tube nosuch 5", NOT_FOUND),
        cmd(A, b"list-tubes", ok(b"---\n- default\n- t\n")),
        cmd(A, b"ignore default", b"WATCHING 1\r\n"), cmd(A, b"watch a", b"WATCHING 2\r\n"),
        cmd(A, b"watch b", b"WATCHING 3\r\n"), cmd(A, b"ignore t", b"WATCHING 2\r\n"),
        cmd(A, b"list-tubes-watched", ok(b"---\n- b\n- a\n"))]),
    "half_close_while_waiting": ([], [
        (A, b"watch zz\r\nreserve\r\nlist-tube-used\r\n", b"WATCHING 2\r\n"), ("shut", A),
        (A, b"", b"TIMED_OUT\r\nUSING default\r\n"), (A, b"", EOF)]),
    "pipelined_behind_reserve": ([], [
        (A, b"watch yy\r\nreserve\r\nlist-tube-used\r\n", b"WATCHING 2\r\n"),
        cmd(B, b"use yy", b"USING yy\r\n"), put(B, 1, b"z"),
        (A, b"", job(b"RESERVED", 1, b"z") + b"USING default\r\n")]),
    "deadline_soon_and_ttr": ([], [
        put(A, 1, ttr=2), cmd(A, b"reserve", job(b"RESERVED", 1)),
        cmd(A, b"reserve-with-timeout 5", Timed(b"DEADLINE_SOON\r\n", 0.9, 1.3)),
        # 1.12 may drop A from its timer heap after DEADLINE_SOON (late-TTR quirk): a harmless
        # command on A itself puts it back, so the overdue job is released right away
        ("sleep", 1.3), cmd(A, b"list-tube-used", b"USING default\r\n"), ("sleep", 0.05),
        cmd(B, b"stats-job 1", Yaml(state="ready", timeouts=1, reserves=1))]),
}

CASES = {**TESTSERV, **QUIRKS}


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.mark.parametrize("net", NETS)
@pytest.mark.parametrize("name", list(CASES))
def test_transcript(kind: str, name: str, net: str) -> None:
    """The same bytes out of a real beanstalkd and of `stalksim serve`, over TCP and over a
    unix socket."""
    args, steps = CASES[name]
    server = make_server(kind, *args, net=net)
    t = Transcript(server)
    try:
        t.run(steps)
    finally:
        t.close()
        server.stop()


@pytest.mark.slow
@pytest.mark.parametrize("kind_", KINDS)
def test_job_size_max_plus_1(kind_: str) -> None:
    """testserv.c's job_size_max_plus_1: a 1 GiB + 1 body is read, thrown away, refused."""
    server = make_server(kind_, "-z", "1073741824")
    t = Transcript(server)
    try:
        size = 1073741825
        s = t.sock(A)
        s.sendall(b"put 0 0 0 %d\r\n" % size)
        chunk = b"x" * (1 << 20)
        left = size
        while left:
            n = min(left, len(chunk))
            s.sendall(chunk[:n])
            left -= n
        t.run([(A, b"\r\n", b"JOB_TOO_BIG\r\n"), put(A, 1)])
    finally:
        t.close()
        server.stop()
