/* wait and connect: commands that send several requests under one
 * deadline (their tables and judgement: commands_wait.c). */
#ifndef IPOPCTL_STEPS_H
#define IPOPCTL_STEPS_H

#include "cli.h"
#include "session.h"

/* Runs a CLI_STEPS command; returns its exit code. */
int steps_run(struct opts *o, const struct cli_command *cmd, struct cli_parsed *p);

#endif
