//! `bundle doctor`'s checks against a deployment on 127.0.0.1 (see `doctor::test_fixture`):
//! one test per hop that breaks exactly that hop, and one where every hop works.

mod hops;
