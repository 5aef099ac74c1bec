# forkflow: see LICENSE.
#
# libFuzzer harnesses, built and run by `make fuzz` and never by `make
# check` (which replays their corpora and crashes: see replay.mk).  clang compiles the modules of src/ (all but forkflow.c, which
# holds main) with ASan, UBSan and coverage into fuzz/out/libfuzz.a, apart
# from libforkflow.a (built by $(CC), without sanitizers); each harness
# links what it needs from there.  Each runs for FUZZ_SECONDS in its own
# scratch folder, fuzz/out/run/NAME/, from the seeds in fuzz/corpus/NAME/
# (and the tokens in fuzz/NAME.dict, if there is one).
# `make fuzz` fails if any harness reports a crash, a leak, a UBSan error,
# a fatal() in a module or a property that does not hold, and shows the
# report's first 40 lines (its stacks, where the end would be ASan's
# shadow bytes); the input that did it is left as
# fuzz/out/run/NAME/crash-* (or leak-*, timeout-*).
# Included by tests/Makefile.am.
#
#	make fuzz FUZZ_SECONDS=300
#	make fuzz FUZZ_TARGETS=fuzz_expr FUZZ_FLAGS=-jobs=1
#	fuzz/out/fuzz_expr crash-...	(replay one input)

FUZZ_SECONDS = 60
FUZZ_FLAGS =
FUZZ_TARGETS = fuzz_expr fuzz_program fuzz_input fuzz_runfile fuzz_ckpt
FUZZ_CC = $(CLANG)
FUZZ_SAN = address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS = -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,$(FUZZ_SAN)
FUZZ_LIBCFLAGS = -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer-no-link,$(FUZZ_SAN)
FUZZ_CPPFLAGS = -include $(top_builddir)/config.h -I$(top_srcdir)/src \
	-I$(top_builddir)/src $(JANSSON_CFLAGS) $(XXHASH_CFLAGS) $(MPI_CFLAGS)
FUZZ_LIB = fuzz/out/libfuzz.a
FUZZ_LIBS = $(FUZZ_LIB) $(JANSSON_LIBS) $(XXHASH_LIBS) $(EXPAT_LIBS) \
	$(LIBARCHIVE_LIBS) $(SQLITE3_LIBS) $(MPI_LIBS) $(LIBS)
FUZZ_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
FUZZ_RUNFLAGS = -max_total_time=$(FUZZ_SECONDS) -timeout=30 \
	-print_final_stats=1
FUZZ_ERRORS = runtime error:|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)

FUZZ_UTIL = $(srcdir)/fuzz/fuzz_util.c $(srcdir)/fuzz/fuzz_util.h
FUZZ_DIST = fuzz/README fuzz/fuzz.mk fuzz/corpus \
	fuzz/fuzz_util.c fuzz/fuzz_util.h \
	fuzz/fuzz_expr.c fuzz/fuzz_program.c fuzz/fuzz_input.c \
	fuzz/fuzz_runfile.c fuzz/fuzz_ckpt.c \
	fuzz/fuzz_expr.dict fuzz/fuzz_program.dict

fuzz-check-cc:
	@if test -z "$(FUZZ_CC)"; then \
	  echo "make fuzz needs clang with libFuzzer (configure found no" \
	    "clang; try make fuzz CLANG=clang-14)" >&2; \
	  exit 1; \
	fi

# Compile a module again when it, a header or config.h is newer than its
# object; rebuild the archive only if one was.
# A header src/ generates (pytask.h, the runner of forkflow mapreduce).
$(top_builddir)/src/pytask.h:
	cd $(top_builddir)/src && $(MAKE) $(AM_MAKEFLAGS) pytask.h

$(FUZZ_LIB): fuzz-check-cc fuzz-force $(top_builddir)/src/pytask.h
	@$(MKDIR_P) fuzz/out/obj
	@set -e; objs=; new=; \
	for f in $(top_srcdir)/src/*.c; do \
	  case $$f in */forkflow.c) continue ;; esac; \
	  o=fuzz/out/obj/`basename $$f .c`.o; \
	  objs="$$objs $$o"; \
	  stale=; \
	  for d in $$f $(top_srcdir)/src/*.h $(top_builddir)/config.h; do \
	    if test ! -f $$o || test $$d -nt $$o; then stale=1; fi; \
	  done; \
	  if test -z "$$stale"; then continue; fi; \
	  cmd="$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_LIBCFLAGS) -c -o $$o $$f"; \
	  if $(AM_V_P); then echo "$$cmd"; else echo "  CC       $$o"; fi; \
	  $$cmd; \
	  new=1; \
	done; \
	if test -n "$$new" || test ! -f $@; then \
	  echo "  AR       $@"; \
	  rm -f $@; $(AR) cr $@ $$objs; $(RANLIB) $@; \
	fi

fuzz/out/fuzz_expr: $(srcdir)/fuzz/fuzz_expr.c $(FUZZ_UTIL) $(FUZZ_LIB)
	$(AM_V_CCLD)$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ \
	    $(srcdir)/fuzz/fuzz_expr.c \
	    $(srcdir)/fuzz/fuzz_util.c $(FUZZ_LIBS)
fuzz/out/fuzz_program: $(srcdir)/fuzz/fuzz_program.c $(FUZZ_UTIL) $(FUZZ_LIB)
	$(AM_V_CCLD)$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ \
	    $(srcdir)/fuzz/fuzz_program.c \
	    $(srcdir)/fuzz/fuzz_util.c $(FUZZ_LIBS)
fuzz/out/fuzz_input: $(srcdir)/fuzz/fuzz_input.c $(FUZZ_UTIL) $(FUZZ_LIB)
	$(AM_V_CCLD)$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ \
	    $(srcdir)/fuzz/fuzz_input.c \
	    $(srcdir)/fuzz/fuzz_util.c $(FUZZ_LIBS)
fuzz/out/fuzz_runfile: $(srcdir)/fuzz/fuzz_runfile.c $(FUZZ_UTIL) $(FUZZ_LIB)
	$(AM_V_CCLD)$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ \
	    $(srcdir)/fuzz/fuzz_runfile.c \
	    $(srcdir)/fuzz/fuzz_util.c $(FUZZ_LIBS)
fuzz/out/fuzz_ckpt: $(srcdir)/fuzz/fuzz_ckpt.c $(FUZZ_UTIL) $(FUZZ_LIB)
	$(AM_V_CCLD)$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ \
	    $(srcdir)/fuzz/fuzz_ckpt.c \
	    $(srcdir)/fuzz/fuzz_util.c $(FUZZ_LIBS)

# Build the harnesses of FUZZ_TARGETS without running them.
fuzz-build: $(FUZZ_LIB)
	@progs=; \
	for t in $(FUZZ_TARGETS); do progs="$$progs fuzz/out/$$t"; done; \
	if $(AM_V_P); then s=; else s=-s; fi; \
	$(MAKE) $(AM_MAKEFLAGS) $$s $$progs

# Run each harness in turn; report them all, then fail if one failed.
fuzz: fuzz-build
	@failed=; \
	for t in $(FUZZ_TARGETS); do \
	  dir=fuzz/out/run/$$t; \
	  rm -rf $$dir; \
	  $(MKDIR_P) $$dir/corpus $$dir/tmp || exit 1; \
	  dict=; \
	  if test -f $(abs_srcdir)/fuzz/$$t.dict; then \
	    dict=-dict=$(abs_srcdir)/fuzz/$$t.dict; \
	  fi; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS)s (log in $$dir/fuzz.log)"; \
	  ( cd $$dir && TMPDIR=`pwd`/tmp $(FUZZ_ENV) \
	    $(abs_builddir)/fuzz/out/$$t $(FUZZ_RUNFLAGS) $$dict \
	    $(FUZZ_FLAGS) corpus $(abs_srcdir)/fuzz/corpus/$$t ) \
	    >$$dir/fuzz.log 2>&1; \
	  rc=$$?; \
	  grep -E '^#[0-9]+[[:space:]]+DONE' $$dir/fuzz.log | tail -n 1; \
	  grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' \
	    $$dir/fuzz.log | tail -n 2; \
	  if test $$rc -ne 0 || grep -E "$(FUZZ_ERRORS)" $$dir/fuzz.log \
	      >/dev/null; then \
	    if grep -q -E "$(FUZZ_ERRORS)|^$$t: " $$dir/fuzz.log; then \
	      echo "FAIL: $$t (exit $$rc); the report in $$dir/fuzz.log:"; \
	      sed -n -E "/$(FUZZ_ERRORS)|^$$t: /,\$$p" $$dir/fuzz.log | \
	        head -n 40; \
	    else \
	      echo "FAIL: $$t (exit $$rc); the end of $$dir/fuzz.log:"; \
	      tail -n 40 $$dir/fuzz.log; \
	    fi; \
	    ls $$dir | grep -E '^(crash|leak|timeout|oom|slow-unit)-' | \
	      sed "s|^|  input: $$dir/|"; \
	    failed="$$failed $$t"; \
	  fi; \
	done; \
	if test -n "$$failed"; then \
	  echo "fuzz: failed:$$failed"; exit 1; \
	fi; \
	echo "fuzz: all passed"

fuzz-clean:
	-rm -rf fuzz/out

fuzz-force:

clean-local: fuzz-clean

.PHONY: fuzz fuzz-build fuzz-check-cc fuzz-clean fuzz-force
