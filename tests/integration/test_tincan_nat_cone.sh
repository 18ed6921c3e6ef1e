#!/usr/bin/env bash
# ipop-tincan test 2: see tincan_nat.sh.
exec bash "$(dirname "$0")/tincan_nat.sh" cone
