-- Notifications go out through channels beside email (alerts/channel: a
-- signed webhook, WeCom and DingTalk group robots, SMS): each row of the
-- notification log says which one. A message is settled per (alert,
-- version, recipient, kind, tier, channel); rows written before this
-- migration were emails, and read as such.
--
-- Numbered 0012: 0008–0010 are the console's, 0011 the old months'.
ALTER TABLE {{.DB}}notifications{{.OnCluster}}
    ADD COLUMN channel String DEFAULT 'email';
