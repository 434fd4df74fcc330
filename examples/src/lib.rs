//! Nothing to link: this package only holds the examples in `examples/` (a package needs one
//! library or binary target). Run one with `cargo run -p scheduler-examples --example NAME`:
//!
//! | example | what it shows |
//! |---|---|
//! | `minimal` | the smallest embedding: a typed handler and a schedule declared in code, on SQLite |
//! | `postgres_processes` | several processes of one program on one PostgreSQL: each fire runs once |
//! | `custom_handlers` | the REST server with the program's own typed handler |
//! | `embedded` | the core's ports wired by hand, without the facade (what `scheduler` does underneath) |
//! | `bare_job` | the reference server of `bench/reads.sh`: one job's JSON from memory, no middleware |
