//! The journal: every stage written before the work after it, `--wait-until`, and a rollout
//! stopped at any stage (paused, or its dashctl killed) finished by `resume` or undone by
//! `abort`.

use super::*;

/// The stages a release of v2 over v1 with two canary steps journals, in order.
const STAGES: [&str; 9] = [
    "starting",
    "started",
    "checking",
    "healthy",
    "canary 10%",
    "canary 50%",
    "switching",
    "switched",
    "baked",
];

/// portal live on blue with v1, nothing journaled.
async fn blue_live(hang_after: Option<&'static str>) -> FakePlatform {
    let fake = FakePlatform {
        hang_after,
        // Not while v1 goes out.
        hung: Mutex::new(true),
        ..FakePlatform::default()
    };
    fake.release("v1", &canary()).await.expect("v1");
    *fake.hung.lock().expect("lock") = false;
    fake.journaled.lock().expect("lock").clear();
    fake.calls.lock().expect("lock").clear();
    fake
}

/// Releases v2 until the fake hangs after journaling `stage`, then drops the rollout there,
/// as a SIGKILL stops dashctl between two calls.
async fn killed_after(stage: &'static str) -> FakePlatform {
    let fake = blue_live(Some(stage)).await;
    let killed = tokio::time::timeout(
        Duration::from_millis(500),
        deploy(&fake, "portal", &"v2".to_owned(), &canary(), &quiet),
    )
    .await;
    assert!(killed.is_err(), "the rollout ran past {stage}: {killed:?}");
    let journal = fake.journal().expect("journaled");
    assert_eq!(journal.stage.to_string(), stage);
    assert!(!journal.paused);
    fake
}

fn traffic(fake: &FakePlatform) -> Option<Traffic> {
    fake.traffic.lock().expect("lock").0
}

#[tokio::test]
async fn every_stage_is_journaled_in_order_and_the_journal_cleared_at_the_end() {
    let fake = blue_live(None).await;
    fake.release("v2", &canary()).await.expect("v2");
    assert_eq!(fake.journaled(), STAGES);
    assert_eq!(fake.journal(), None);
    // Each stage is written before the work that follows it.
    let timeline = fake.timeline_with_journal();
    let position = |entry: &str| {
        timeline
            .iter()
            .position(|line| line == entry)
            .unwrap_or_else(|| panic!("{entry} not in {timeline:?}"))
    };
    assert!(position("journal starting") < position("start green v2"));
    assert!(position("journal canary 10%") < position("shift 50% green"));
    assert!(position("journal baked") < position("retire blue"));
}

#[tokio::test]
async fn a_rollout_killed_at_any_stage_is_finished_by_resume() {
    for stage in STAGES {
        let fake = killed_after(stage).await;
        let journal = fake.journal().expect("journaled");
        let reached = resume(&fake, journal, Some(&"v2".to_owned()), &canary(), &quiet)
            .await
            .unwrap_or_else(|error| panic!("resume from {stage}: {error}"));
        assert_eq!(
            reached,
            Reached::Live(Outcome {
                service: "portal".into(),
                from: Some(Color::Blue),
                to: Color::Green,
            }),
            "from {stage}"
        );
        assert_eq!(
            traffic(&fake),
            Some(Traffic::to(Color::Green, 100)),
            "{stage}"
        );
        assert_eq!(fake.calls().last().map(String::as_str), Some("retire blue"));
        assert_eq!(fake.releases.lock().expect("lock")[&Color::Green], "v2");
        assert_eq!(fake.route(), None, "{stage}");
        assert_eq!(fake.journal(), None, "{stage}");
    }
}

#[tokio::test]
async fn a_rollout_killed_at_any_stage_is_undone_by_abort() {
    for stage in STAGES {
        let fake = killed_after(stage).await;
        let journal = fake.journal().expect("journaled");
        let aborted = abort(&fake, journal, &canary(), &quiet)
            .await
            .unwrap_or_else(|error| panic!("abort from {stage}: {error}"));
        assert_eq!(aborted.live, Some(Color::Blue));
        assert_eq!(fake.live(), Some(Color::Blue), "{stage}");
        // Traffic moved back only where it had moved: not before the first canary step's
        // weights were set (they are set after that stage is journaled).
        let moved = STAGES.iter().position(|s| *s == stage) >= Some(5);
        assert_eq!(
            fake.calls().contains(&"shift blue".to_owned()),
            moved,
            "{stage}: {:?}",
            fake.calls()
        );
        if moved {
            assert_eq!(
                traffic(&fake),
                Some(Traffic::to(Color::Blue, 100)),
                "{stage}"
            );
        }
        let running = fake.running.lock().expect("lock").clone();
        assert_eq!(running.get(&Color::Green), Some(&false), "{stage}");
        assert_eq!(running.get(&Color::Blue), Some(&true), "{stage}");
        // Green never ran a release before v2: it has none again, so a rollback finds none.
        assert!(
            !fake
                .releases
                .lock()
                .expect("lock")
                .contains_key(&Color::Green)
        );
        assert_eq!(fake.route(), None, "{stage}");
        assert_eq!(fake.journal(), None, "{stage}");
    }
}

#[tokio::test]
async fn wait_until_pauses_at_its_stage_with_the_old_color_up() {
    for (wait_until, live) in [
        (WaitUntil::Healthy, Color::Blue),
        (WaitUntil::Switched, Color::Green),
        (WaitUntil::Baked, Color::Green),
    ] {
        let fake = blue_live(None).await;
        let paused = RolloutOptions {
            wait_until: Some(wait_until),
            ..canary()
        };
        let (reached, steps) = fake.release_reporting("v2", &paused).await;
        let reached = reached.expect("paused");
        let Reached::Paused(view) = reached else {
            panic!("{wait_until:?}: not paused: {reached:?}");
        };
        assert_eq!(view.stage, wait_until.stage());
        assert!(view.paused);
        assert_eq!(fake.journal().map(|journal| journal.paused), Some(true));
        assert_eq!(fake.live(), Some(live), "{wait_until:?}");
        assert!(!fake.calls().contains(&"retire blue".to_owned()));
        assert_eq!(
            steps.last(),
            Some(&Step::Paused {
                stage: wait_until.stage()
            })
        );
        // Paused healthy, the new color is still reachable through its test route.
        assert_eq!(
            fake.route(),
            (wait_until == WaitUntil::Healthy).then_some(Color::Green)
        );

        let journal = fake.journal().expect("journaled");
        let reached = resume(&fake, journal, None, &canary(), &quiet)
            .await
            .expect("resumed");
        assert!(matches!(reached, Reached::Live(_)), "{reached:?}");
        assert_eq!(fake.calls().last().map(String::as_str), Some("retire blue"));
        assert_eq!(fake.journal(), None);
    }
}

#[tokio::test]
async fn resume_can_pause_again_further_on() {
    let fake = blue_live(None).await;
    let until = |stage| RolloutOptions {
        wait_until: Some(stage),
        ..canary()
    };
    deploy(
        &fake,
        "portal",
        &"v2".to_owned(),
        &until(WaitUntil::Healthy),
        &quiet,
    )
    .await
    .expect("paused healthy");
    let journal = fake.journal().expect("journaled");
    let reached = resume(&fake, journal, None, &until(WaitUntil::Switched), &quiet)
        .await
        .expect("paused switched");
    assert!(matches!(&reached, Reached::Paused(view) if view.stage == Stage::Switched));
    assert_eq!(fake.live(), Some(Color::Green));
}

#[tokio::test]
async fn a_rollout_stopped_while_starting_resumes_only_with_the_release_it_started() {
    let fake = killed_after("starting").await;
    let journal = fake.journal().expect("journaled");
    let error = resume(
        &fake,
        journal.clone(),
        Some(&"v3".to_owned()),
        &canary(),
        &quiet,
    )
    .await
    .expect_err("another release");
    assert!(
        matches!(&error, RolloutError::ReleaseChanged { started, spec, .. }
            if started == "v2" && spec.as_deref() == Some("v3")),
        "{error}"
    );
    assert_eq!(error.aftermath(), Aftermath::Failed);
    // Nothing was touched, and the journal is still there to abort.
    assert_eq!(fake.journal(), Some(journal));
}

#[tokio::test]
async fn traffic_that_cannot_be_moved_back_keeps_the_journal_for_abort() {
    let fake = blue_live_with(vec!["shift blue"], "flaky");
    let error = fake.release("flaky", &canary()).await.expect_err("stuck");
    assert_eq!(error.aftermath(), Aftermath::NeedsAttention, "{error}");
    assert!(error.to_string().contains("rollout abort"), "{error}");
    let journal = fake.journal().expect("kept");
    assert!(matches!(journal.stage, Stage::Canary { .. }), "{journal:?}");
}

#[tokio::test]
async fn an_abort_that_moved_traffic_back_but_could_not_scale_down_is_a_plain_failure() {
    let fake = blue_live_with(vec!["retire green"], "none");
    let paused = RolloutOptions {
        wait_until: Some(WaitUntil::Switched),
        ..canary()
    };
    deploy(&fake, "portal", &"v2".to_owned(), &paused, &quiet)
        .await
        .expect("paused switched");
    let journal = fake.journal().expect("journaled");
    let error = abort(&fake, journal, &canary(), &quiet)
        .await
        .expect_err("green not scaled down");
    // Not "traffic could not be moved back": it was.
    assert_eq!(error.aftermath(), Aftermath::Failed, "{error}");
    assert_eq!(traffic(&fake), Some(Traffic::to(Color::Blue, 100)));
    // The journal stays, so a second abort finishes the job.
    assert!(fake.journal().is_some());
}
