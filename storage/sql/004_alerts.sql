-- glimpse schema version 4: alert rule state and its history, kept by the rule evaluator of
-- `glimpse serve --rules` (docs/alerting.md), so that a restart neither forgets a firing
-- alert nor notifies it anew. One row per alert (a rule's name) in glimpse_alert_state;
-- one row per state change in glimpse_alert_history. Times are span time.

CREATE TABLE glimpse_alert_state (
    alert          VARCHAR PRIMARY KEY,  -- the rule's `alert` name
    state          VARCHAR NOT NULL,     -- inactive | pending | firing | resolved
    value          DOUBLE,               -- the signal's value at the last evaluation (NULL: no data)
    active_since   TIMESTAMP_NS,         -- when the condition began to hold (pending or firing)
    fired_at       TIMESTAMP_NS,
    resolved_at    TIMESTAMP_NS,
    evaluated_at   TIMESTAMP_NS,
    scope          VARCHAR NOT NULL,     -- the rule's scope as text: "checkout", "checkout -> payment"
    signal         VARCHAR NOT NULL,
    labels         JSON NOT NULL,
    annotations    JSON NOT NULL,        -- rendered with the value and the root causes
    root_causes    JSON NOT NULL         -- the top three when it fired: rank, kind, name, service, score, evidence
);

CREATE TABLE glimpse_alert_history (
    alert          VARCHAR NOT NULL,
    changed_at     TIMESTAMP_NS NOT NULL,
    from_state     VARCHAR NOT NULL,
    to_state       VARCHAR NOT NULL,
    value          DOUBLE,
    root_causes    JSON NOT NULL
);

-- Every remediation action a rule asked for (docs/alerting.md#remediation-hooks), sent or
-- not: the audit trail of glimpse's self-healing hooks.
CREATE TABLE glimpse_remediation_audit (
    requested_at   TIMESTAMP_NS NOT NULL,  -- the evaluation that fired the alert
    alert          VARCHAR NOT NULL,
    target_kind    VARCHAR,                -- the top root cause's kind and name (NULL: none found)
    target_name    VARCHAR,
    action_url     VARCHAR NOT NULL,
    outcome        VARCHAR NOT NULL,       -- dry_run | queued | cooldown | no_root_cause | queue_full
    remediation    VARCHAR NOT NULL,       -- the suggested remediation ('' without a root cause)
    evidence       JSON NOT NULL           -- the alert's value and root causes that triggered it
);
