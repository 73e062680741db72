//! The safe API against a float64 reference on fresh random data, errors, and sharing across threads.
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use blocksparse::{BFloat16, DType, Params, Plan, Scale, Status};

/// xorshift64*: fresh seed per run (printed on failure through the assertion messages).
struct Rng(u64);
impl Rng {
    fn new() -> Rng {
        Rng(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64 | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    /// Uniform in [-1, 1).
    fn f32(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
    fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.f32()).collect()
    }
}

fn random_plan(rng: &mut Rng, cb: usize, kb: usize, b: i32, axis: i32) -> Plan {
    let mut layout: Vec<u8> = (0..cb * kb).map(|_| (rng.next() % 3 == 0) as u8).collect();
    layout[(rng.next() % (cb * kb) as u64) as usize] = 1;
    let params = Params { block_size: b, feature_axis: axis, num_threads: 2, ..Params::default() };
    Plan::new(&layout, cb, kb, &params).unwrap()
}

/// Dense (C, K) float64 weights of a plan.
fn dense(p: &Plan, w: &[f32]) -> Vec<f64> {
    let (b, k) = (p.block_size(), p.k());
    let mut d = vec![0.0; p.c() * k];
    for i in 0..p.nnz() {
        let (cb, kb) = p.block_coord(i).unwrap();
        for r in 0..b {
            for s in 0..b {
                d[(cb * b + r) * k + kb * b + s] = w[(i * b + r) * b + s] as f64;
            }
        }
    }
    d
}

fn idx(axis: i32, n: usize, feat: usize, r: usize, f: usize) -> usize {
    if axis == 1 {
        r * feat + f
    } else {
        f * n + r
    }
}

fn rel_err(got: &[f32], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    let (mut num, mut den) = (0.0, 0.0);
    for (g, w) in got.iter().zip(want) {
        if g.is_nan() {
            return f64::INFINITY;
        }
        num += (*g as f64 - w).powi(2);
        den += w * w;
    }
    (num / den).sqrt()
}

#[test]
fn products_match_float64_reference() {
    let mut rng = Rng::new();
    for axis in [1, 0] {
        for n in [1usize, 6] {
            let p = random_plan(&mut rng, 3, 4, 8, axis);
            let (c, k) = (p.c(), p.k());
            let w = rng.vec(p.weight_len());
            let d = dense(&p, &w);
            let (x, dy) = (rng.vec(n * c), rng.vec(n * k));
            let (x2, dy2) = (rng.vec(n * c), rng.vec(n * k));
            let (mut y, mut dx, mut dw) = (vec![f32::NAN; n * k], vec![f32::NAN; n * c], vec![f32::NAN; w.len()]);
            p.fprop(n, &x, &w, &mut y, Scale::default()).unwrap();
            p.bprop(n, &dy, &w, &mut dx, Scale::default()).unwrap();
            p.updat(n, &[(&x, &dy), (&x2, &dy2)], &mut dw, Scale::default()).unwrap();

            let at = |a: &[f32], feat: usize, r: usize, f: usize| a[idx(axis, n, feat, r, f)] as f64;
            let (mut y_ref, mut dx_ref) = (vec![0.0; y.len()], vec![0.0; dx.len()]);
            for r in 0..n {
                for j in 0..k {
                    y_ref[idx(axis, n, k, r, j)] = (0..c).map(|i| at(&x, c, r, i) * d[i * k + j]).sum();
                }
                for i in 0..c {
                    dx_ref[idx(axis, n, c, r, i)] = (0..k).map(|j| at(&dy, k, r, j) * d[i * k + j]).sum();
                }
            }
            let b = p.block_size();
            let mut dw_ref = vec![0.0; dw.len()];
            for blk in 0..p.nnz() {
                let (cb, kb) = p.block_coord(blk).unwrap();
                for u in 0..b {
                    for v in 0..b {
                        dw_ref[(blk * b + u) * b + v] = [(&x, &dy), (&x2, &dy2)]
                            .iter()
                            .map(|(xs, ds)| {
                                (0..n).map(|r| at(xs, c, r, cb * b + u) * at(ds, k, r, kb * b + v)).sum::<f64>()
                            })
                            .sum();
                    }
                }
            }
            for (name, e) in [("y", rel_err(&y, &y_ref)), ("dx", rel_err(&dx, &dx_ref)), ("dw", rel_err(&dw, &dw_ref))]
            {
                assert!(e <= 1e-5, "axis {axis} N {n}: {name} relative error {e}");
            }
        }
    }
}

#[test]
fn scale_beta_and_gates() {
    let mut rng = Rng::new();
    let p = random_plan(&mut rng, 2, 2, 8, 1);
    let n = 3;
    let (x, w) = (rng.vec(n * p.c()), rng.vec(p.weight_len()));
    let mut y1 = vec![f32::NAN; n * p.k()];
    p.fprop(n, &x, &w, &mut y1, Scale::default()).unwrap();
    let prev = rng.vec(n * p.k());
    let mut y2 = prev.clone();
    let gate = vec![2.0f32; p.nnz()];
    p.fprop(n, &x, &w, &mut y2, Scale { alpha: 0.5, beta: 1.0, gate: Some(&gate) }).unwrap();
    for i in 0..y2.len() {
        let want = y1[i] + prev[i];
        assert!((y2[i] - want).abs() <= 1e-5 * (1.0 + want.abs()), "y[{i}] = {} want {want}", y2[i]);
    }
}

#[test]
fn bfloat16_against_fp32_on_rounded_values() {
    let mut rng = Rng::new();
    let layout = [1u8, 0, 1, 1];
    let p16 = Plan::new(&layout, 2, 2, &Params { block_size: 16, dtype: DType::BF16, ..Params::default() }).unwrap();
    let p32 = Plan::new(&layout, 2, 2, &Params { block_size: 16, ..Params::default() }).unwrap();
    let n = 5;
    let x: Vec<BFloat16> = rng.vec(n * p16.c()).into_iter().map(BFloat16::from_f32).collect();
    let w: Vec<BFloat16> = rng.vec(p16.weight_len()).into_iter().map(BFloat16::from_f32).collect();
    let mut y = vec![BFloat16(0x7fc0); n * p16.k()];
    p16.fprop(n, &x, &w, &mut y, Scale::default()).unwrap();
    let up = |s: &[BFloat16]| s.iter().map(|v| v.to_f32()).collect::<Vec<f32>>();
    let mut r = vec![f32::NAN; y.len()];
    p32.fprop(n, &up(&x), &up(&w), &mut r, Scale::default()).unwrap();
    let r64: Vec<f64> = r.iter().map(|&v| v as f64).collect();
    let e = rel_err(&up(&y), &r64);
    assert!(e <= 1e-2, "bf16 relative error {e}");
    let err = p16.fprop(n, &up(&x), &up(&w), &mut r, Scale::default()).unwrap_err();
    assert_eq!(err.status, Status::INVALID_VALUE);
}

#[test]
fn errors_carry_the_library_message_and_write_nothing() {
    let err = Plan::new(&[0, 0, 0, 0], 2, 2, &Params::default()).unwrap_err();
    assert_eq!(err.status, Status::INVALID_LAYOUT);
    assert!(err.to_string().starts_with("BS_STATUS_INVALID_LAYOUT: bsmm_create"), "{err}");
    let err = Plan::new(&[1], 1, 1, &Params { block_size: 12, ..Params::default() }).unwrap_err();
    assert!(err.status == Status::INVALID_VALUE && err.message.contains("block_size"), "{err}");
    let err = Plan::from_bsr(2, 2, &[0, 1, 1], &[5], &Params::default()).unwrap_err();
    assert_eq!(err.status, Status::INVALID_LAYOUT, "{err}");
    assert_eq!(Plan::new(&[1, 1], 1, 1, &Params::default()).unwrap_err().status, Status::SHAPE_MISMATCH);

    let p = Plan::new(&[1, 1], 1, 2, &Params { block_size: 8, ..Params::default() }).unwrap();
    let mut y = vec![f32::NAN; 2 * p.k()];
    let w = vec![1.0f32; p.weight_len()];
    let e = p.fprop(2, &vec![1.0; 2 * p.c() - 1], &w, &mut y, Scale::default()).unwrap_err();
    assert_eq!(e.status, Status::SHAPE_MISMATCH);
    let e =
        p.fprop(2, &vec![1.0; 2 * p.c()], &w, &mut y, Scale { alpha: f32::INFINITY, ..Scale::default() }).unwrap_err();
    assert!(e.status == Status::INVALID_VALUE && e.message.contains("alpha"), "{e}");
    let e =
        p.fprop(2, &vec![1.0; 2 * p.c()], &w, &mut y, Scale { gate: Some(&[1.0]), ..Scale::default() }).unwrap_err();
    assert_eq!(e.status, Status::SHAPE_MISMATCH);
    assert!(y.iter().all(|v| v.is_nan()), "a failed call wrote y");
    assert_eq!(Status(12345).name(), "BS_STATUS_UNKNOWN");
}

#[test]
fn one_plan_shared_by_threads() {
    let mut rng = Rng::new();
    let p = Arc::new(random_plan(&mut rng, 4, 4, 8, 1));
    let n = 9;
    let (x, w) = (Arc::new(rng.vec(n * p.c())), Arc::new(rng.vec(p.weight_len())));
    let mut want = vec![f32::NAN; n * p.k()];
    p.fprop(n, &x, &w, &mut want, Scale::default()).unwrap();
    let want = Arc::new(want);
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (p, x, w, want) = (p.clone(), x.clone(), w.clone(), want.clone());
            std::thread::spawn(move || {
                for _ in 0..20 {
                    let mut y = vec![f32::NAN; want.len()];
                    p.fprop(n, &x, &w, &mut y, Scale::default()).unwrap();
                    assert!(y.iter().zip(want.iter()).all(|(a, b)| a.to_bits() == b.to_bits()), "not deterministic");
                    let e = p.fprop(n, &x, &w[1..], &mut y, Scale::default()).unwrap_err();
                    assert_eq!(e.status, Status::SHAPE_MISMATCH);
                    let e = p.block_coord(1 << 40).unwrap_err(); // library message of this thread's failure
                    assert!(e.message.contains("block"), "{e}");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn identity_and_l2_normalize() {
    let p = Plan::new(&[1, 0, 0, 1], 2, 2, &Params { block_size: 8, ..Params::default() }).unwrap();
    let mut w = vec![f32::NAN; p.weight_len()];
    p.identity_init(&mut w, 3.0).unwrap();
    let x = Rng::new().vec(4 * p.c());
    let mut y = vec![f32::NAN; 4 * p.k()];
    p.fprop(4, &x, &w, &mut y, Scale::default()).unwrap();
    assert!(x.iter().zip(&y).all(|(a, b)| (3.0 * a - b).abs() <= 1e-5 * (1.0 + a.abs())));
    let mut wn = vec![f32::NAN; w.len()];
    p.l2_normalize(&w, None, &mut wn, 0.0).unwrap();
    assert!(w.iter().zip(&wn).all(|(a, b)| (a / 3.0 - b).abs() <= 1e-6));
    let (g, mut dg, mut dw) = (vec![1.0f32; p.k()], vec![f32::NAN; p.k()], vec![f32::NAN; w.len()]);
    p.l2_normalize_grad(&w, &w, Some((&g, &mut dg)), &mut dw, 0.0).unwrap();
    assert!(dg.iter().all(|v| (v - 3.0).abs() <= 1e-5), "dgain = Σ w²/‖w‖ = 3: {dg:?}");
    assert_eq!(p.layout().unwrap(), vec![1, 0, 0, 1]);
}
