//! Reverted bumps: a bump commit (its `Bundle-Image`/`Bundle-Digest` lines) that a `git
//! revert` commit took back on the branch HEAD is on. Its digest is held: never proposed
//! again, while any other (newer) digest of the image still is.
//!
//! The history read is bounded: the newest [`HISTORY_LIMIT`] commits reachable from HEAD,
//! read in one `git log`. A revert commit says `This reverts commit <id>` (also the one
//! GitHub's "Revert" button makes); the commit it names is read from the same history, or by
//! its id when it is older than that. A revert of a merge commit (a merged bump pull
//! request) takes back every bump the merge brought in. A revert that was itself reverted
//! (git's `Reapply "..."`) holds nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use bundle_gen::{Digest, ImageName};

use crate::git::{CommitId, GitCommandError, GitError, LoggedCommit, Repo};

/// How many commits of HEAD's history are read: in a repository that gains a few commits a
/// day (pin bumps, merges, edits), years of history, and still a fraction of a second for
/// `git log` (about 0.1 s and 1.5 MB of text for 10,000 commits of Tuwunel's own history). A
/// revert older than that no longer holds its digest.
pub const HISTORY_LIMIT: usize = 10_000;

/// A bump taken back by a revert on the branch HEAD is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevertedBump {
    /// The image the bump moved.
    pub image: ImageName,
    /// The digest it moved the image to, which is not proposed again.
    pub digest: Digest,
    /// The bump commit.
    pub bump: CommitId,
    /// The commit that reverted it.
    pub revert: CommitId,
    /// The revert commit's subject.
    pub revert_subject: String,
}

/// The reverted bumps in the history of HEAD of the repository holding `path`; none when
/// `path` is in no repository, git is not installed, or the repository has no commit yet
/// (there is no history that could hold a pin). `env` is set for every git command, as for
/// [`Repo::open_with_env`].
pub fn reverted_bumps_at(
    path: &Path,
    env: &BTreeMap<String, String>,
) -> Result<Vec<RevertedBump>, GitError> {
    let repo = match Repo::open_with_env(path, env) {
        Ok(repo) => repo,
        Err(GitError::NotARepository { .. }) => return Ok(Vec::new()),
        Err(GitError::Git { source, .. }) if matches!(*source, GitCommandError::Spawn { .. }) => {
            return Ok(Vec::new());
        }
        Err(error) => return Err(error),
    };
    reverted_bumps(&repo)
}

/// The reverted bumps in the newest [`HISTORY_LIMIT`] commits of HEAD, newest revert first.
pub fn reverted_bumps(repo: &Repo) -> Result<Vec<RevertedBump>, GitError> {
    let history = match repo.log_head(HISTORY_LIMIT) {
        Ok(history) => history,
        Err(GitError::NoCommits) => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let by_id: BTreeMap<&CommitId, &LoggedCommit> =
        history.iter().map(|commit| (&commit.id, commit)).collect();
    let reverts: Vec<(&LoggedCommit, Vec<CommitId>)> = history
        .iter()
        .map(|commit| (commit, reverted_ids(&commit.message)))
        .filter(|(_, reverted)| !reverted.is_empty())
        .collect();
    // Which commits an effective revert takes back. The history is newest first and a revert
    // names an older commit, so the reverts of a revert are decided before it is.
    let mut undone: BTreeSet<&CommitId> = BTreeSet::new();
    let mut effective = Vec::new();
    for (revert, reverted) in &reverts {
        if undone.contains(&revert.id) {
            continue;
        }
        undone.extend(reverted.iter());
        effective.push((*revert, reverted));
    }

    let mut bumps = Vec::new();
    for (revert, reverted) in effective {
        for id in reverted {
            let taken_back = match by_id.get(id) {
                Some(commit) => vec![(*commit).clone()],
                None => repo.log_commit(id)?.into_iter().collect(),
            };
            for commit in taken_back {
                let brought_in = match commit.parents.as_slice() {
                    // A merge brings in the commits of its second parent's side.
                    [first, second, ..] => repo.log_range(first, second, HISTORY_LIMIT)?,
                    _ => vec![commit],
                };
                for bump in brought_in {
                    for (image, digest) in bump_lines(&bump.message) {
                        bumps.push(RevertedBump {
                            image,
                            digest,
                            bump: bump.id.clone(),
                            revert: revert.id.clone(),
                            revert_subject: revert.subject().to_owned(),
                        });
                    }
                }
            }
        }
    }
    Ok(bumps)
}

/// The commits a message says it reverts: `This reverts commit <id>` (`.` or `, reversing`
/// after it), with a full object name.
fn reverted_ids(message: &str) -> Vec<CommitId> {
    message
        .lines()
        .filter_map(|line| line.trim().strip_prefix("This reverts commit "))
        .filter_map(|rest| {
            let hex: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
            // SHA-1 or SHA-256 object names.
            matches!(hex.len(), 40 | 64).then(|| CommitId::from_hex(hex.to_ascii_lowercase()))
        })
        .collect()
}

/// Each `Bundle-Image: <key>` line of a message with the `Bundle-Digest: <digest>` line that
/// follows it. Read from the whole message, not only its trailer paragraph, so that a squash
/// merge of several bumps, which lists their messages one after the other, counts each.
fn bump_lines(message: &str) -> Vec<(ImageName, Digest)> {
    let mut found = Vec::new();
    let mut image: Option<ImageName> = None;
    for line in message.lines().map(str::trim) {
        if let Some(key) = line.strip_prefix("Bundle-Image:") {
            image = key.trim().parse().ok();
        } else if let Some(digest) = line.strip_prefix("Bundle-Digest:")
            && let (Some(name), Ok(digest)) = (image.take(), digest.trim().parse())
        {
            found.push((name, digest));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixture::fake_digest;

    #[test]
    fn a_revert_names_the_commit_it_reverts() {
        let id = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(
            reverted_ids(&format!(
                "Revert \"chore(pins): bump tuwunel v1.9.3 -> v1.9.4\"\n\nThis reverts commit {id}.\n"
            )),
            [CommitId::from_hex(id.to_owned())]
        );
        assert_eq!(
            reverted_ids(&format!(
                "Revert \"Merge pull request #7\"\n\nThis reverts commit {id}, reversing\nchanges made to {id}.\n"
            )),
            [CommitId::from_hex(id.to_owned())]
        );
        assert!(reverted_ids("This reverts commit 0123456.\n").is_empty());
    }

    #[test]
    fn each_bump_of_a_squashed_message_is_read() {
        let message = format!(
            "Pin bumps (#9)\n\n* chore(pins): bump tuwunel\n\nBundle-Image: homeserver\n\
             Bundle-Digest: {}\n\n* chore(pins): bump lk-jwt-service\n\nBundle-Image: lkJwt\n\
             Bundle-Digest: {}\n",
            fake_digest('a'),
            fake_digest('b')
        );
        assert_eq!(
            bump_lines(&message),
            [
                (ImageName::HOMESERVER, fake_digest('a')),
                (ImageName::LK_JWT, fake_digest('b'))
            ]
        );
    }

    #[test]
    fn a_digest_without_its_image_line_is_no_bump() {
        let message = format!("x\n\nBundle-Digest: {}\n", fake_digest('a'));
        assert!(bump_lines(&message).is_empty());
    }
}
