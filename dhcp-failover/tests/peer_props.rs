//! Random interleavings of link up/down, silent packet loss, time and lease updates on a
//! `testing::Pair`: no panic, and after healing both sides end NORMAL with every update
//! acked and applied by the partner.

use dhcp_failover::testing::{Pair, START_UNIX, test_binding};
use dhcp_failover::{Role, State};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Connect,
    Cut,
    /// Packets silently lost (both peers still think the link is up).
    Silence,
    Advance(u64),
    Update(bool, u16),
    Restart(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Connect),
        2 => Just(Op::Cut),
        1 => Just(Op::Silence),
        4 => (0u64..90_000).prop_map(Op::Advance),
        6 => (any::<bool>(), 0u16..24).prop_map(|(p, n)| Op::Update(p, n)),
        1 => any::<bool>().prop_map(Op::Restart),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_interleavings_heal_to_normal(ops in proptest::collection::vec(op(), 0..40)) {
        let mut p = Pair::fresh();
        let mut tstp = START_UNIX;
        for o in &ops {
            match *o {
                Op::Connect => p.connect(),
                Op::Cut => p.cut(),
                Op::Silence => p.connected = false,
                Op::Advance(ms) => p.advance(ms),
                Op::Update(primary, n) => {
                    tstp += 1;
                    let role = if primary { Role::Primary } else { Role::Secondary };
                    // Each side owns its own address range.
                    let n = if primary { n } else { 1000 + n };
                    p.update(role, test_binding(n, tstp));
                }
                Op::Restart(primary) => {
                    // A restart that kept its lease file.
                    let role = if primary { Role::Primary } else { Role::Secondary };
                    let cfg = dhcp_failover::testing::test_config(role);
                    let saved = p.side(role).persisted;
                    p.restart(role, cfg, Some(saved));
                }
            }
        }
        // Heal: drop whatever link state there is, reconnect, let MCLT and timers run.
        p.cut();
        p.advance(1_000);
        p.connect();
        for _ in 0..10 {
            if p.states() == (State::NORMAL, State::NORMAL) && p.a.all_acked() && p.b.all_acked() {
                break;
            }
            p.advance(60_000);
            if !p.connected {
                p.connect();
            }
        }
        prop_assert_eq!(p.states(), (State::NORMAL, State::NORMAL), "{:?}", p.a.logs());
        prop_assert!(p.a.all_acked() && p.b.all_acked());
        prop_assert_eq!(&p.b.received, &p.a.own);
        prop_assert_eq!(&p.a.received, &p.b.own);
    }
}
