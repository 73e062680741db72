//! SparseProj against float64 references on both feature axes, and bad input.
mod common;

use blocksparse::{SparseProj, SparseProjParams, Status};
use common::*;

#[test]
fn every_op_matches_float64() {
    let mut rng = Rng::new();
    let (nh, n) = (9, 4);
    let lut: Vec<i64> = vec![7, 2, 5, 0];
    let np = lut.len();
    for axis in [0, 1] {
        let plan =
            SparseProj::new(&lut, nh, &SparseProjParams { feature_axis: axis, ..SparseProjParams::default() }).unwrap();
        let hid = |r: usize, f: usize| if axis == 1 { r * nh + f } else { f * n + r };
        let pro = |r: usize, j: usize| if axis == 1 { r * np + j } else { j * n + r };
        let (x, p, dz) = (rng.vec(n * nh), rng.vec(n * np), rng.vec(n * nh));
        let mut g = poison(n * np);
        plan.gather(n, &x, &mut g).unwrap();
        let mut s = poison(n * nh);
        plan.scatter(n, &p, &mut s).unwrap();
        let (mut za, mut zm) = (poison(n * nh), poison(n * nh));
        plan.scatter_add(n, &x, &p, &mut za).unwrap();
        plan.scatter_mul(n, &x, &p, &mut zm).unwrap();
        let (mut dxa, mut dya, mut dxm, mut dym) = (poison(n * nh), poison(n * np), poison(n * nh), poison(n * np));
        plan.scatter_add_grad(n, &dz, Some(&mut dxa), Some(&mut dya)).unwrap();
        plan.scatter_mul_grad(n, &dz, &x, &p, Some(&mut dxm), Some(&mut dym)).unwrap();

        let mut g_ref = vec![0.0; n * np];
        let mut s_ref = vec![0.0; n * nh];
        let (mut za_ref, mut zm_ref) = (f64s(&x), f64s(&x));
        let (mut dya_ref, mut dxm_ref, mut dym_ref) = (vec![0.0; n * np], f64s(&dz), vec![0.0; n * np]);
        for r in 0..n {
            for (j, &f) in lut.iter().enumerate() {
                let (h, q) = (hid(r, f as usize), pro(r, j));
                g_ref[q] = x[h] as f64;
                s_ref[h] = p[q] as f64;
                za_ref[h] += p[q] as f64;
                zm_ref[h] *= p[q] as f64;
                dya_ref[q] = dz[h] as f64;
                dxm_ref[h] *= p[q] as f64;
                dym_ref[q] = dz[h] as f64 * x[h] as f64;
            }
        }
        assert_close("gather", &g, &g_ref);
        assert_close("scatter", &s, &s_ref);
        assert_close("scatter_add", &za, &za_ref);
        assert_close("scatter_mul", &zm, &zm_ref);
        assert_close("scatter_add_grad dx", &dxa, &f64s(&dz));
        assert_close("scatter_add_grad dy", &dya, &dya_ref);
        assert_close("scatter_mul_grad dx", &dxm, &dxm_ref);
        assert_close("scatter_mul_grad dy", &dym, &dym_ref);
    }
}

#[test]
fn bad_input_fails_and_writes_nothing() {
    let p = SparseProjParams::default();
    for (lut, needle) in [(vec![1i64, 1], "repeated"), (vec![0, 9], "range")] {
        let e = SparseProj::new(&lut, 4, &p).unwrap_err();
        assert_eq!(e.status, Status::INVALID_VALUE, "{e}");
        assert!(e.message.contains(needle) || e.message.contains("lut"), "{e}");
    }
    let plan = SparseProj::new(&[3, 1], 4, &p).unwrap();
    let x = vec![1.0f32; 8];
    let mut y = poison(4);
    assert_fails(plan.gather(2, &x[..7], &mut y), Status::SHAPE_MISMATCH, "x has 7", &y);
    let mut z = poison(8);
    assert_fails(plan.scatter_add(2, &x, &x[..3], &mut z), Status::SHAPE_MISMATCH, "y has 3", &z);
}
