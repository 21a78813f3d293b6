//! Runs FastLeaderElection for this server: one task owns the election state machine and the
//! election transport, answers peers for as long as the server lives (LOOKING peers get our vote
//! even while we lead or follow), and runs a round whenever the server asks for a leader. It
//! tells the round which voters the transport cannot reach, so a round need not wait for them.

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};
use zk_election::{Election, History, Output, Vote};
use zk_jute::quorum::{Notification, ServerState};
use zk_quorum::QuorumCnxManager;

/// The outcome of a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub vote: Vote,
    pub state: ServerState,
    /// From the start of the round to the decision.
    pub took: Duration,
}

enum Command {
    LookForLeader {
        history: History,
        reply: oneshot::Sender<Decision>,
    },
    SetState(ServerState),
    UpdateVote(i64),
}

/// A handle on the election task; it stops when every handle is dropped.
#[derive(Debug, Clone)]
pub struct ElectionService {
    commands: mpsc::Sender<Command>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::LookForLeader { history, .. } => write!(f, "LookForLeader({history:?})"),
            Command::SetState(state) => write!(f, "SetState({state:?})"),
            Command::UpdateVote(epoch) => write!(f, "UpdateVote({epoch})"),
        }
    }
}

impl ElectionService {
    /// Starts the task on `cnx` (already listening) with a fresh `election`.
    pub fn spawn(cnx: QuorumCnxManager, election: Election) -> Self {
        let (commands, inbox) = mpsc::channel(8);
        tokio::spawn(run(cnx, election, inbox));
        ElectionService { commands }
    }

    /// Runs a round (`lookForLeader`) and waits for its decision.
    pub async fn look_for_leader(&self, history: History) -> Option<Decision> {
        let (reply, decided) = oneshot::channel();
        self.commands
            .send(Command::LookForLeader { history, reply })
            .await
            .ok()?;
        decided.await.ok()
    }

    /// Tells the election what this server is now (e.g. LOOKING after losing its leader), so
    /// peers get the right answer.
    pub async fn set_state(&self, state: ServerState) {
        let _ = self.commands.send(Command::SetState(state)).await;
    }

    /// Once this server leads or has synced with its leader in `epoch`, its vote carries that epoch
    /// (`updateElectionVote`), so peers that look later see one vote from the whole ensemble.
    pub async fn update_election_vote(&self, epoch: i64) {
        let _ = self.commands.send(Command::UpdateVote(epoch)).await;
    }
}

async fn run(cnx: QuorumCnxManager, mut election: Election, mut inbox: mpsc::Receiver<Command>) {
    let epoch = Instant::now();
    let now = || epoch.elapsed().as_millis() as u64;
    let mut round: Option<(Instant, oneshot::Sender<Decision>)> = None;
    loop {
        while let Some(output) = election.poll_output() {
            match output {
                Output::Send { to, notification } => cnx.send(to, notification.to_bytes()),
                Output::Decided { vote, state } => {
                    if let Some((started, reply)) = round.take() {
                        let took = started.elapsed();
                        info!(leader = %vote.leader, ?state, took_ms = took.as_millis() as u64, "leader election decided");
                        let _ = reply.send(Decision { vote, state, took });
                    }
                }
            }
        }
        let timeout = election
            .poll_timeout()
            .map(|at| epoch + Duration::from_millis(at));
        tokio::select! {
            command = inbox.recv() => match command {
                None => {
                    cnx.shutdown();
                    return;
                }
                Some(Command::LookForLeader { history, reply }) => {
                    info!(my_id = %cnx.my_id(), zxid = %history.last_logged_zxid, "new election");
                    round = Some((Instant::now(), reply));
                    election.look_for_leader(now(), history);
                }
                Some(Command::SetState(state)) => election.set_state(state),
                Some(Command::UpdateVote(epoch)) => election.update_election_vote(epoch),
            },
            message = cnx.recv() => match Notification::decode(&message.payload) {
                Ok(notification) => election.handle_notification(now(), message.from, notification),
                Err(err) => warn!(from = %message.from, %err, "skipping a malformed notification"),
            },
            () = cnx.reachability_changed() => election.set_unreachable(now(), cnx.unreachable()),
            () = sleep_until(timeout) => election.handle_timeout(now()),
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
