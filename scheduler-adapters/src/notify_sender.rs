//! `ChannelSenders`: the `ChannelSender` port — webhook and Slack channels through the
//! delivery client ([`HttpExecutor::send_json`]: the SSRF guard, signing with the tenant's
//! secrets, header values kept out of errors), e-mail through an SMTP relay with `lettre`
//! (rustls), every SMTP step bounded by a timeout.

use std::time::Duration;

use async_trait::async_trait;
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use scheduler_core::{Channel, ChannelKind, ChannelSender, Message};

use crate::http_executor::HttpExecutor;

/// Where e-mail goes out: `smtp://host:port` (plain, for a local relay), `smtps://host`
/// (TLS) or `smtp://host?tls=required` (STARTTLS); credentials as `user:password@` in the
/// URL.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// The relay's URL.
    pub url: String,
    /// The sender address (`Scheduler <scheduler@example.com>`).
    pub from: String,
    /// Longest one SMTP step may take (connect, each command).
    pub timeout: Duration,
}

/// Sends notifications to every kind of channel.
#[derive(Clone)]
pub struct ChannelSenders {
    /// Webhooks and Slack.
    http: HttpExecutor,
    /// E-mail, when a relay is configured.
    smtp: Option<(AsyncSmtpTransport<Tokio1Executor>, Mailbox)>,
}

impl ChannelSenders {
    /// Senders over the delivery client, with e-mail when `smtp` is given.
    ///
    /// # Errors
    /// When the SMTP URL or the sender address does not read.
    pub fn new(http: HttpExecutor, smtp: Option<&SmtpConfig>) -> Result<Self, String> {
        let smtp = match smtp {
            None => None,
            Some(config) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&config.url)
                    .map_err(|e| format!("SMTP URL: {e}"))?
                    .timeout(Some(config.timeout))
                    .build();
                let from: Mailbox = config
                    .from
                    .parse()
                    .map_err(|e| format!("sender address {:?}: {e}", config.from))?;
                Some((transport, from))
            }
        };
        Ok(Self { http, smtp })
    }
}

#[async_trait]
impl ChannelSender for ChannelSenders {
    async fn send(&self, channel: &Channel, id: i64, message: &Message) -> Result<(), String> {
        match channel.def.kind {
            ChannelKind::Webhook | ChannelKind::Slack => {
                let target = channel
                    .def
                    .target
                    .as_ref()
                    .ok_or("the channel has no URL")?;
                self.http
                    .send_json(
                        target,
                        &channel.tenant,
                        &format!("notification-{id}"),
                        &message.body,
                    )
                    .await
            }
            ChannelKind::Email => {
                let (transport, from) = self
                    .smtp
                    .as_ref()
                    .ok_or("no SMTP relay is configured (SCHEDULER_SMTP_URL)")?;
                let mut builder = lettre::Message::builder()
                    .from(from.clone())
                    .subject(&message.subject)
                    .header(ContentType::TEXT_PLAIN);
                for address in &channel.def.to {
                    let to: Mailbox = address
                        .parse()
                        .map_err(|e| format!("recipient {address:?}: {e}"))?;
                    builder = builder.to(to);
                }
                let email = builder
                    .body(message.text.clone())
                    .map_err(|e| format!("cannot build the e-mail: {e}"))?;
                transport
                    .send(email)
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("SMTP: {e}"))
            }
        }
    }
}
