//! `zkcli`: Apache ZooKeeper 3.8's zkCli.sh, same options, commands and output.

use std::io::{IsTerminal, Write};

use zk_cli::{Invocation, Io, Shell, repl};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let invocation = match Invocation::parse(&args) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = runtime.block_on(run(invocation));
    let _ = std::io::stdout().flush();
    // Like zkCli's System.exit: do not wait for the session to close.
    std::process::exit(code);
}

async fn run(invocation: Invocation) -> i32 {
    let mut shell = Shell::new(invocation.clone());
    let mut stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    shell.progress = stderr.is_terminal();
    println!("Connecting to {}", invocation.server);
    if let Err(e) = shell.connect(&invocation.server).await {
        eprintln!("{e}");
        return 1;
    }
    if let Some(command) = invocation.command {
        let mut io = Io {
            out: &mut stdout,
            err: &mut stderr,
        };
        shell.process(command, &mut io).await;
        shell.drain_events(&mut stdout);
        return shell.exit_code();
    }
    println!("Welcome to ZooKeeper!");
    if std::io::stdin().is_terminal() {
        println!("JLine support is enabled");
        repl::interactive(shell).await
    } else {
        println!("JLine support is disabled");
        repl::piped(shell).await
    }
}
