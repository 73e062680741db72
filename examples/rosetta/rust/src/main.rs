//! The Rosetta example, Rust version (see ../README.md): prints the same checksum line as rosetta.c.
use blocksparse::{Params, Plan, Scale};

const SEED: u32 = 2024;
const B: i32 = 16;
const CB: usize = 6;
const KB: usize = 5;
const N: usize = 7;

fn hash(s: u32, i: u32) -> u32 {
    let mut x = i.wrapping_mul(0x9E37_79B1).wrapping_add(s);
    x ^= x >> 16;
    x = x.wrapping_mul(0x7FEB_352D);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846C_A68B);
    x ^= x >> 16;
    x
}

fn value(stream: u32, i: u32) -> f32 {
    (((hash(SEED * 4 + stream, i) >> 8) % 17) as i32 - 8) as f32 / 8.0
}

fn main() -> Result<(), blocksparse::Error> {
    let layout: Vec<u8> = (0..CB * KB)
        .map(|j| (hash(SEED * 4, j as u32) % 3 == 0 || (j / KB) % KB == (j % KB) % CB) as u8)
        .collect();
    let plan = Plan::new(&layout, CB, KB, &Params { block_size: B, ..Params::default() })?;
    let w: Vec<f32> = (0..plan.weight_len()).map(|j| value(1, j as u32)).collect();
    let x: Vec<f32> = (0..N * plan.c()).map(|j| value(2, j as u32)).collect();
    let mut y = vec![0.0f32; N * plan.k()];
    plan.fprop(N, &x, &w, &mut y, Scale::default())?;
    let checksum: f64 = y.iter().enumerate().map(|(i, &v)| v as f64 * (i % 7 + 1) as f64).sum();
    println!("rosetta N={} C={} K={} nnz={} checksum={:.6}", N, plan.c(), plan.k(), plan.nnz(), checksum);
    Ok(())
}
