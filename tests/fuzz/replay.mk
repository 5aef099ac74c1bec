# forkflow: see LICENSE.
#
# The fuzzers' regression inputs in `make check`: every file of
# fuzz/corpus/NAME/ and of fuzz/crashes/ is replayed through harness NAME
# by t-fuzz-replay.sh.  Each harness is linked here with fuzz/replay.c, a
# main() standing in for libFuzzer, by $(CC) with the flags of the other
# tests, so that under --enable-sanitizers the inputs run under ASan and
# UBSan.  The programs are fuzz/replay/NAME, the harness's name, which its
# failures and its scratch folder carry.
# Included by tests/Makefile.am, after AM_TESTS_ENVIRONMENT.

TESTS += t-fuzz-replay.sh
check_PROGRAMS += fuzz/replay/fuzz_expr fuzz/replay/fuzz_program \
	fuzz/replay/fuzz_input fuzz/replay/fuzz_runfile fuzz/replay/fuzz_ckpt

REPLAY_SOURCES = fuzz/replay.c fuzz/fuzz_util.c fuzz/fuzz_util.h
REPLAY_CPPFLAGS = -include $(top_builddir)/config.h -I$(top_srcdir)/src
REPLAY_CFLAGS = $(WARN_CFLAGS) $(SAN_CFLAGS) $(JANSSON_CFLAGS) \
	$(XXHASH_CFLAGS)
REPLAY_LDADD = $(top_builddir)/src/libforkflow.a $(JANSSON_LIBS) \
	$(XXHASH_LIBS) $(EXPAT_LIBS) $(LIBARCHIVE_LIBS) $(SQLITE3_LIBS) $(MPI_LIBS)

fuzz_replay_fuzz_expr_SOURCES = fuzz/fuzz_expr.c $(REPLAY_SOURCES)
fuzz_replay_fuzz_expr_CPPFLAGS = $(REPLAY_CPPFLAGS)
fuzz_replay_fuzz_expr_CFLAGS = $(REPLAY_CFLAGS)
fuzz_replay_fuzz_expr_LDADD = $(REPLAY_LDADD)
fuzz_replay_fuzz_expr_LDFLAGS = $(SAN_CFLAGS)

fuzz_replay_fuzz_program_SOURCES = fuzz/fuzz_program.c $(REPLAY_SOURCES)
fuzz_replay_fuzz_program_CPPFLAGS = $(REPLAY_CPPFLAGS)
fuzz_replay_fuzz_program_CFLAGS = $(REPLAY_CFLAGS)
fuzz_replay_fuzz_program_LDADD = $(REPLAY_LDADD)
fuzz_replay_fuzz_program_LDFLAGS = $(SAN_CFLAGS)

fuzz_replay_fuzz_input_SOURCES = fuzz/fuzz_input.c $(REPLAY_SOURCES)
fuzz_replay_fuzz_input_CPPFLAGS = $(REPLAY_CPPFLAGS)
fuzz_replay_fuzz_input_CFLAGS = $(REPLAY_CFLAGS)
fuzz_replay_fuzz_input_LDADD = $(REPLAY_LDADD)
fuzz_replay_fuzz_input_LDFLAGS = $(SAN_CFLAGS)

fuzz_replay_fuzz_runfile_SOURCES = fuzz/fuzz_runfile.c $(REPLAY_SOURCES)
fuzz_replay_fuzz_runfile_CPPFLAGS = $(REPLAY_CPPFLAGS)
fuzz_replay_fuzz_runfile_CFLAGS = $(REPLAY_CFLAGS)
fuzz_replay_fuzz_runfile_LDADD = $(REPLAY_LDADD)
fuzz_replay_fuzz_runfile_LDFLAGS = $(SAN_CFLAGS)

fuzz_replay_fuzz_ckpt_SOURCES = fuzz/fuzz_ckpt.c $(REPLAY_SOURCES)
fuzz_replay_fuzz_ckpt_CPPFLAGS = $(REPLAY_CPPFLAGS)
fuzz_replay_fuzz_ckpt_CFLAGS = $(REPLAY_CFLAGS)
fuzz_replay_fuzz_ckpt_LDADD = $(REPLAY_LDADD)
fuzz_replay_fuzz_ckpt_LDFLAGS = $(SAN_CFLAGS)

AM_TESTS_ENVIRONMENT += \
	FUZZ_REPLAY='$(abs_builddir)/fuzz/replay'; export FUZZ_REPLAY;

EXTRA_DIST += fuzz/replay.mk fuzz/crashes
