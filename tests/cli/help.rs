//! Every subcommand's `--help` shows an example.

use super::{exited, refold};

#[test]
fn every_subcommand_help_has_an_example() {
    let (stdout, _) = exited(&refold(&["--help"]), 0);
    assert!(stdout.contains("Examples:\n  refold serve"), "{stdout}");
    for command in [
        "serve",
        "deploy",
        "rollback",
        "modules",
        "append",
        "read",
        "export",
        "import",
        "command",
        "projections",
        "rebuild",
        "query",
        "test",
        "new",
    ] {
        let (stdout, _) = exited(&refold(&[command, "--help"]), 0);
        assert!(
            stdout.contains("Example") && stdout.contains(&format!("\n  refold {command}")),
            "`refold {command} --help` shows an example:\n{stdout}"
        );
        assert!(stdout.contains("Usage: refold"), "{stdout}");
    }
    let (stdout, _) = exited(&refold(&["serve", "--help"]), 0);
    for option in [
        "--listen",
        "--deploy",
        "--snapshot",
        "--token",
        "--durability",
    ] {
        assert!(stdout.contains(option), "{option}:\n{stdout}");
    }
}
