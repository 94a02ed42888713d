//! `bundle completions` and `bundle man`: every subcommand and option of the clap definition
//! reaches the shells and the man pages. The expected names come from `Cli::command()`, so a
//! new command or flag is covered without editing these tests.

use std::fs;
use std::process::Command;

use clap::CommandFactory as _;
use insta::assert_snapshot;

use crate::support::Workdir;

/// Every command of the CLI with its path of subcommand names (the root's is empty), the
/// implicit `help` subcommand left out.
fn commands() -> Vec<(Vec<String>, clap::Command)> {
    fn walk(
        command: &clap::Command,
        path: Vec<String>,
        all: &mut Vec<(Vec<String>, clap::Command)>,
    ) {
        all.push((path.clone(), command.clone()));
        for subcommand in command.get_subcommands() {
            let mut sub_path = path.clone();
            sub_path.push(subcommand.get_name().to_owned());
            walk(subcommand, sub_path, all);
        }
    }
    let mut all = Vec::new();
    walk(&bundle::Cli::command(), Vec::new(), &mut all);
    all
}

/// The long options of `command`, `--help` and `--version` included, as `--name`.
fn long_options(command: &clap::Command) -> Vec<String> {
    let mut command = command.clone();
    command.build();
    command
        .get_arguments()
        .filter(|argument| !argument.is_hide_set())
        .filter_map(|argument| argument.get_long())
        .map(|long| format!("--{long}"))
        .collect()
}

fn subcommand_names(command: &clap::Command) -> Vec<String> {
    command
        .get_subcommands()
        .map(|subcommand| subcommand.get_name().to_owned())
        .collect()
}

/// What bash offers for the last word of `line` (`bundle pins ` offers the words after
/// `pins`), with the script of `bundle completions bash` loaded.
fn bash_completions(script: &str, words: &[&str]) -> Vec<String> {
    let words: Vec<String> = words.iter().map(|word| format!("'{word}'")).collect();
    let program = format!(
        "{script}\nCOMP_WORDS=({words})\nCOMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))\n\
         _bundle bundle \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        words = words.join(" ")
    );
    let output = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .env_clear()
        .output()
        .expect("bash runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn completion_script(shell: &str) -> String {
    Workdir::empty()
        .bundle(&["completions", shell])
        .success()
        .stdout()
}

#[test]
fn bash_completes_every_subcommand_name() {
    let script = completion_script("bash");
    let mut checked = 0;
    for (path, command) in commands() {
        let expected = subcommand_names(&command);
        if expected.is_empty() {
            continue;
        }
        let mut words: Vec<&str> = std::iter::once("bundle")
            .chain(path.iter().map(String::as_str))
            .collect();
        words.push("");
        let offered = bash_completions(&script, &words);
        for name in &expected {
            assert!(
                offered.contains(name),
                "{words:?}: no `{name}` in {offered:?}"
            );
        }
        checked += expected.len();
    }
    assert!(checked >= 9, "only {checked} subcommands");
}

#[test]
fn bash_completes_every_long_option_of_every_command() {
    let script = completion_script("bash");
    for (path, command) in commands() {
        let mut words: Vec<&str> = std::iter::once("bundle")
            .chain(path.iter().map(String::as_str))
            .collect();
        words.push("--");
        let offered = bash_completions(&script, &words);
        for option in long_options(&command) {
            assert!(
                offered.contains(&option),
                "{words:?}: no `{option}` in {offered:?}"
            );
        }
    }
}

#[test]
fn bash_completes_the_shells_of_completions() {
    let script = completion_script("bash");
    let offered = bash_completions(&script, &["bundle", "completions", ""]);
    let values: Vec<&String> = offered
        .iter()
        .filter(|word| !word.starts_with('-'))
        .collect();
    assert_eq!(values, ["bash", "elvish", "fish", "powershell", "zsh"]);
}

#[test]
fn every_shell_gets_a_script_naming_every_subcommand() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = completion_script(shell);
        for (path, _) in commands().into_iter().skip(1) {
            let name = path.last().expect("a subcommand has a name");
            assert!(script.contains(name.as_str()), "{shell}: no `{name}`");
        }
    }
}

#[test]
fn an_unknown_shell_is_refused() {
    let run = Workdir::empty().bundle(&["completions", "tcsh"]);
    assert_snapshot!(run.transcript(), @r"
    exit: 2
    --- stdout
    --- stderr
    error: invalid value 'tcsh' for '<SHELL>'
      [possible values: bash, elvish, fish, powershell, zsh]

      tip: a similar value exists: 'zsh'

    For more information, try '--help'.
    ");
}

/// `text` as roff writes it, where `-` is `\-`.
fn roff(text: &str) -> String {
    text.replace('-', "\\-")
}

#[test]
fn man_prints_the_page_of_bundle_naming_every_subcommand_and_global_option() {
    let run = Workdir::empty().bundle(&["man"]).success();
    let page = run.stdout();
    assert!(page.starts_with(".ie \\n(.g .ds Aq \\(aq"), "{page}");
    assert!(page.contains(".TH bundle 1"), "{page}");
    let root = bundle::Cli::command();
    for name in subcommand_names(&root) {
        assert!(page.contains(&roff(&name)), "no `{name}` in:\n{page}");
    }
    for option in long_options(&root) {
        assert!(page.contains(&roff(&option)), "no `{option}` in:\n{page}");
    }
    assert_eq!(run.stderr(), "");
}

#[test]
fn man_out_writes_a_page_per_command_with_its_options() {
    let work = Workdir::empty();
    let run = work.bundle(&["man", "--out", "man/man1"]).success();
    assert_snapshot!(run.transcript(), @r"
    exit: 0
    --- stdout
    --- stderr
    wrote bundle.1 and a page per subcommand to man/man1
    ");

    let dir = work.path().join("man/man1");
    let mut expected_files = Vec::new();
    for (path, command) in commands() {
        let name = std::iter::once("bundle")
            .chain(path.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join("-");
        let file = format!("{name}.1");
        let page = fs::read_to_string(dir.join(&file)).unwrap_or_else(|_| panic!("no {file}"));
        assert!(page.contains(&format!(".TH {name} 1")), "{file}");
        for option in long_options(&command) {
            assert!(page.contains(&roff(&option)), "{file}: no `{option}`");
        }
        for subcommand in subcommand_names(&command) {
            assert!(
                page.contains(&roff(&format!("{name}-{subcommand}(1)"))),
                "{file}: no link to `{subcommand}`"
            );
        }
        expected_files.push(file);
    }
    let mut files: Vec<String> = fs::read_dir(&dir)
        .expect("the man directory")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    files.sort();
    expected_files.sort();
    assert_eq!(files, expected_files);
}

#[test]
fn man_pages_show_the_examples_and_exit_codes_of_their_command() {
    let work = Workdir::empty();
    work.bundle(&["man", "--out", "."]).success();
    let page = fs::read_to_string(work.path().join("bundle-gen.1")).expect("bundle-gen.1");
    assert!(page.contains("Exit codes:"), "{page}");
    assert!(page.contains(&roff("bundle gen --check")), "{page}");
}

#[test]
fn man_out_to_a_file_is_an_error() {
    let work = Workdir::empty();
    fs::write(work.path().join("pages"), "").expect("a file where the directory goes");
    let run = work.bundle(&["man", "--out", "pages"]);
    assert_snapshot!(run.transcript(), @r"
    exit: 2
    --- stdout
    --- stderr
    error: cannot create the directory pages: File exists (os error 17)
    ");
}
