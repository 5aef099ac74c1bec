/* forkflow: see LICENSE. */
/* The suites of the Check runner, one per module. */

#ifndef CHECK_FORKFLOW_H
#define CHECK_FORKFLOW_H

#include <check.h>

Suite	*agg_suite(void);
Suite	*expr_suite(void);
Suite	*input_suite(void);
Suite	*program_suite(void);
Suite	*proto_suite(void);
Suite	*shuffle_suite(void);
Suite	*sort_suite(void);

#endif
