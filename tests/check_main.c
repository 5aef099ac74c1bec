/* forkflow: see LICENSE. */
/*
 * The Check runner: every module's suite in one binary.
 */

#include <stdlib.h>

#include <check.h>

#include "forkflow.h"
#include "check_forkflow.h"

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(expr_suite());
	srunner_add_suite(sr, agg_suite());
	srunner_add_suite(sr, checkpoint_suite());
	srunner_add_suite(sr, dialect_suite());
	srunner_add_suite(sr, input_suite());
	srunner_add_suite(sr, ops_suite());
	srunner_add_suite(sr, program_suite());
	srunner_add_suite(sr, proto_suite());
	srunner_add_suite(sr, shuffle_suite());
	srunner_add_suite(sr, sort_suite());
	srunner_add_suite(sr, spill_suite());
	srunner_add_suite(sr, supervisor_suite());
	srunner_add_suite(sr, stream_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
