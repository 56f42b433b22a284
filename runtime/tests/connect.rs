//! Connecting: bad URLs and unreachable servers fail fast with the driver's own reason, and no
//! message ever contains a password.

use kiln_runtime::{Db, Error};
use std::time::{Duration, Instant};

#[tokio::test]
async fn unreachable_servers_fail_fast_with_the_real_reason() {
    for url in [
        "postgres://kiln:s3cret@127.0.0.1:1/test",
        "mysql://kiln:s3cret@127.0.0.1:1/test",
    ] {
        let started = Instant::now();
        let err = Db::connect(url).await.expect_err(url);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{url} took {:?}",
            started.elapsed()
        );
        let text = format!("{err} {:?}", std::error::Error::source(&err));
        assert!(matches!(err, Error::Database { .. }), "{text}");
        assert!(text.to_lowercase().contains("refused"), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains(":***@"), "{text}");
    }
}

#[tokio::test]
async fn unknown_schemes_are_usage_errors() {
    let err = Db::connect("oracle://u:pw@h/db").await.unwrap_err();
    assert!(matches!(err, Error::Url { .. }), "{err}");
    assert!(err.to_string().contains("sqlite:, postgres:"), "{err}");
    assert!(!err.to_string().contains("pw@"), "{err}");
}
