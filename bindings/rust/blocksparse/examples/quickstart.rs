//! A 2×2 block layout with its diagonal, b = 8, weights set to 2·I: y = 2·x.
use blocksparse::{Params, Plan, Scale};

fn main() -> Result<(), blocksparse::Error> {
    println!("blocksparse {}", blocksparse::version());
    let plan = Plan::new(&[1, 0, 0, 1], 2, 2, &Params { block_size: 8, ..Params::default() })?;
    let mut w = vec![0.0f32; plan.weight_len()]; // (nnz, b, b)
    plan.identity_init(&mut w, 2.0)?;
    let n = 1;
    let x: Vec<f32> = (0..n * plan.c()).map(|i| i as f32).collect(); // (N, C)
    let mut y = vec![0.0f32; n * plan.k()]; // (N, K)
    plan.fprop(n, &x, &w, &mut y, Scale::default())?;
    println!("C={} K={} nnz={} y[..4]={:?}", plan.c(), plan.k(), plan.nnz(), &y[..4]);
    match Plan::new(&[0], 1, 1, &Params::default()) {
        Err(e) => println!("{e}"),
        Ok(_) => unreachable!("an empty layout is refused"),
    }
    Ok(())
}
