//! A local SMTP sink for the e-mail channel's tests: it speaks just enough SMTP (greeting,
//! EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) to accept a message and keeps each one's
//! recipients and raw text; or, hanging, it accepts connections and never answers.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One message the sink accepted.
#[derive(Debug, Clone, Default)]
pub(crate) struct Mail {
    /// `RCPT TO` addresses, as sent.
    pub(crate) to: Vec<String>,
    /// The message (headers and body) as sent in `DATA`.
    pub(crate) data: String,
}

impl Mail {
    /// The value of header `name` (first line only).
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.data.lines().find_map(|line| {
            line.to_ascii_lowercase()
                .starts_with(&prefix)
                .then(|| line[prefix.len()..].trim().to_string())
        })
    }
}

/// A running sink: its `smtp://` URL and the mail it got.
pub(crate) struct SmtpSink {
    /// `smtp://127.0.0.1:<port>`.
    pub(crate) url: String,
    /// Every accepted message.
    pub(crate) mail: Arc<Mutex<Vec<Mail>>>,
}

/// Starts a sink on a loopback port; with `hang`, it never says a word.
pub(crate) async fn smtp_sink(hang: bool) -> SmtpSink {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let url = format!("smtp://{}", listener.local_addr().expect("address"));
    let mail = Arc::new(Mutex::new(Vec::new()));
    let kept = mail.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            if hang {
                held.push(socket);
                continue;
            }
            let kept = kept.clone();
            tokio::spawn(async move {
                let _ = converse(socket, kept).await;
            });
        }
    });
    SmtpSink { url, mail }
}

async fn converse(
    socket: tokio::net::TcpStream,
    kept: Arc<Mutex<Vec<Mail>>>,
) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 sink ESMTP\r\n").await?;
    let mut current = Mail::default();
    while let Some(line) = lines.next_line().await? {
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            write.write_all(b"250-sink\r\n250 8BITMIME\r\n").await?;
        } else if upper.starts_with("HELO")
            || upper.starts_with("MAIL FROM")
            || upper.starts_with("RSET")
            || upper.starts_with("NOOP")
        {
            write.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("RCPT TO:") {
            current.to.push(
                line[8..]
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string(),
            );
            write.write_all(b"250 OK\r\n").await?;
        } else if upper == "DATA" {
            write.write_all(b"354 go on\r\n").await?;
            let mut data = String::new();
            while let Some(line) = lines.next_line().await? {
                if line == "." {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
                data.push('\n');
            }
            current.data = data;
            kept.lock().unwrap().push(std::mem::take(&mut current));
            write.write_all(b"250 queued\r\n").await?;
        } else if upper.starts_with("QUIT") {
            write.write_all(b"221 bye\r\n").await?;
            break;
        } else {
            write.write_all(b"502 not here\r\n").await?;
        }
    }
    Ok(())
}
