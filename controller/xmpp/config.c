#include "error.h"
#include "xmpp.h"

static const char *const tls_modes[] = { "starttls", "direct", NULL };
static const char *const sub_policies[] = { "ignore", "accept-list",
                                            "accept-all", NULL };

static const struct jb_field tls_fields[] = {
  JB_F_ENUM(struct xmpp_tls_config, mode, "Mode", 0, tls_modes, "starttls"),
  JB_F_BOOL(struct xmpp_tls_config, required, "Required", 0, 1),
  JB_F_STR(struct xmpp_tls_config, ca_file, "CaFile", 0, 0, ""),
  JB_F_BOOL(struct xmpp_tls_config, verify_peer, "VerifyPeer", 0, 1),
  JB_F_STR(struct xmpp_tls_config, client_cert, "ClientCert", 0, 0, ""),
  JB_F_STR(struct xmpp_tls_config, client_key, "ClientKey", 0, 0, ""),
};
static const struct jb_schema tls_schema =
    JB_SCHEMA("Tls", struct xmpp_tls_config, tls_fields);

static const struct jb_field fields[] = {
  JB_F_STR(struct xmpp_config, jid, "Jid", JB_REQUIRED, 3, NULL),
  JB_F_STR(struct xmpp_config, host, "Host", 0, 0, ""),
  JB_F_U32(struct xmpp_config, port, "Port", 0, 0, 65535, 0),
  JB_F_STR(struct xmpp_config, domain, "Domain", 0, 0, ""),
  JB_F_STR(struct xmpp_config, password_file, "PasswordFile", 0, 0, ""),
  JB_F_STR(struct xmpp_config, resource_prefix, "ResourcePrefix", 0, 0, "ipop-"),
  JB_F_OBJ(struct xmpp_config, tls, "Tls", 0, &tls_schema),
  JB_F_STR_ARR(struct xmpp_config, sasl, nsasl, "Sasl", 0, 1),
  JB_F_U32(struct xmpp_config, ping_interval, "PingInterval", 0, 2, 3600, 60),
  JB_F_U32(struct xmpp_config, connect_timeout, "ConnectTimeout", 0, 2, 600, 30),
  JB_F_ENUM(struct xmpp_config, subscription_policy, "SubscriptionPolicy", 0,
            sub_policies, "ignore"),
  JB_F_STR_ARR(struct xmpp_config, accept_from, naccept_from, "AcceptFrom", 0, 3),
  JB_F_STR(struct xmpp_config, roster_group, "RosterGroup", 0, 0, ""),
  JB_F_U32(struct xmpp_config, max_stanza, "MaxStanzaSize", 0, 4096,
           16 * 1024 * 1024, XMPP_STANZA_MAX_DEFAULT),
  JB_F_U32(struct xmpp_config, max_depth, "MaxDepth", 0, 4, 1024,
           XMPP_DEPTH_MAX_DEFAULT),
};

const struct jb_schema xmpp_config_schema =
    JB_SCHEMA("Xmpp", struct xmpp_config, fields);
