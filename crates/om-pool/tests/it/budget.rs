//! The token budget: agents report tokens, the pool charges them at
//! check-in, and once the budget is spent checkouts fail with a typed error.

use std::time::Duration;

use om_pool::{CheckoutError, EventKind, Pool, Request};
use tokio::time::sleep;

use crate::support::{Factory, Fleet, Job, Scripted, drain, placement};

#[tokio::test(start_paused = true)]
async fn checkouts_fail_once_the_budget_is_spent() {
    let fleet = Fleet::new();
    let pool = Pool::builder(Factory::new(&fleet))
        .max(1)
        .spares(0)
        .token_budget(100)
        .placement(placement("llama3.2", "gpu"))
        .build()
        .unwrap();
    let mut events = pool.subscribe();

    let mut agent = pool.checkout(Request::any()).await.unwrap();
    agent.run(Job::ms(1).tokens(30)).await.unwrap();
    agent.run(Job::ms(1).tokens(30)).await.unwrap();
    drop(agent);
    assert_eq!(pool.stats().tokens_used, 60);

    // A waiter queued while the budget is spent is refused too.
    let mut agent = pool.checkout(Request::any()).await.unwrap();
    let waiter = tokio::spawn({
        let pool = pool.clone();
        async move { pool.checkout(Request::any()).await.map(drop) }
    });
    sleep(Duration::from_millis(1)).await;
    assert_eq!(pool.stats().waiters, 1);
    // A failed run still costs its tokens.
    agent.run(Job::ms(1).tokens(50).failing()).await.unwrap_err();
    drop(agent);
    let refused = waiter.await.unwrap().unwrap_err();
    assert!(matches!(refused, CheckoutError::BudgetExhausted { used: 110, budget: 100 }));

    let err: CheckoutError<Scripted> = pool.checkout(Request::any()).await.unwrap_err();
    assert!(err.is_budget_exhausted(), "{err}");
    assert_eq!(err.kind_name(), "budget_exhausted");
    let exhausted: Vec<_> = drain(&mut events)
        .into_iter()
        .filter(|e| matches!(e, EventKind::BudgetExhausted { .. }))
        .collect();
    assert_eq!(exhausted, [EventKind::BudgetExhausted { used: 110, budget: 100 }]);

    let snapshot = pool.snapshot();
    assert_eq!(snapshot.tokens_used, 110);
    assert_eq!(
        snapshot.finished.iter().map(|f| (f.tokens, f.ok)).collect::<Vec<_>>(),
        [(60, true), (50, false)]
    );
}
