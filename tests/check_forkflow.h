/* forkflow: see LICENSE. */
/* The suites of the Check runner, one per module. */

#ifndef CHECK_FORKFLOW_H
#define CHECK_FORKFLOW_H

#include <check.h>

#include <stddef.h>
#include <stdint.h>

/* check_util.c */
void	 ck_tmpdir(char *, size_t, const char *);
char	*ck_path(const char *, const char *, ...)
	    __attribute__((__format__(__printf__, 2, 3)));
char	*ck_slurp(const char *, size_t *);
void	 ck_spew(const char *, const void *, size_t);
void	 ck_spew_str(const char *, const char *);
uint64_t ck_rand(uint64_t *);

/* check_agg.c */
int64_t	 agg_ref(enum op_fn, int64_t, int64_t);

struct program;
char	*ck_program_write(const char *, const char *, const char *, int *,
	    int *);
void	 ck_program_bad(const char *, const char *, const char *, int,
	    const char *);
void	 ck_program_inputs(const char *, const struct program *,
	    const char *const *, size_t);

struct recbuf;
void	 ck_recs_eq(const struct recbuf *, const struct recbuf *,
	    const char *);
void	 ck_recs_add_str(struct recbuf *, const char *, size_t, const char *,
	    size_t);
void	 ck_log_capture(void);
const char *ck_log(void);

Suite	*agg_suite(void);
Suite	*checkpoint_suite(void);
Suite	*dialect_suite(void);
Suite	*expr_suite(void);
Suite	*input_suite(void);
Suite	*ops_suite(void);
Suite	*program_suite(void);
Suite	*proto_suite(void);
Suite	*shuffle_suite(void);
Suite	*sort_suite(void);
Suite	*spill_suite(void);
Suite	*supervisor_suite(void);
Suite	*stream_suite(void);

#endif
