#!/usr/bin/env bash
# issue 5, test 6: the SocialVPN test (test_controller_social.sh) against
# Prosody 0.12 instead of ejabberd (friendships from mod_groups), to show the
# controller makes no ejabberd-only assumption.
CT_XMPP_KIND=prosody exec bash "$(dirname "$0")/test_controller_social.sh" "$@"
