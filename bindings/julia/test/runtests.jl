# Tests of the Julia binding against a Float64 reference on fresh random data.
# Run: BLOCKSPARSE_LIBRARY=<build>/lib/libblocksparse.so julia --project=bindings/julia bindings/julia/test/runtests.jl
using Test
using Blocksparse
using Random

rng = Random.MersenneTwister(rand(UInt32))

function random_plan(CB, KB; kw...)
    layout = rand(rng, 0:2, CB, KB) .== 0
    layout[rand(rng, 1:CB), rand(rng, 1:KB)] = true
    return Plan(Int.(layout); num_threads = 2, kw...)
end

# Dense (C, K) Float64 weights from a (b, b, nnz) array.
function dense(p::Plan, w)
    b = p.block_size
    D = zeros(p.C, p.K)
    for i in 1:p.nnz
        c, k = block_coord(p, i)
        for r in 1:b, s in 1:b
            D[(c - 1) * b + r, (k - 1) * b + s] = w[s, r, i]
        end
    end
    return D
end

relerr(got, ref) = any(isnan, got) ? Inf : sqrt(sum(abs2, Float64.(got) .- ref) / sum(abs2, ref))

@testset "products match Float64 reference" begin
    for axis in (1, 0), N in (1, 6)
        p = random_plan(3, 4; block_size = 8, feature_axis = axis)
        w = randn(rng, Float32, weight_size(p))
        D = dense(p, w)
        x, dy = randn(rng, Float32, input_size(p, N)), randn(rng, Float32, output_size(p, N))
        x2, dy2 = randn(rng, Float32, input_size(p, N)), randn(rng, Float32, output_size(p, N))
        y = fill(NaN32, output_size(p, N))
        dx = fill(NaN32, input_size(p, N))
        dw = fill(NaN32, weight_size(p))
        fprop!(y, p, x, w)
        bprop!(dx, p, dy, w)
        updat!(dw, p, [x, x2], [dy, dy2])
        # Activations as (N, features) Float64 matrices, whatever the axis.
        rows(a) = axis == 1 ? permutedims(Float64.(a)) : Float64.(a)
        @test relerr(rows(y), rows(x) * D) <= 1e-5
        @test relerr(rows(dx), rows(dy) * D') <= 1e-5
        G = rows(x)' * rows(dy) + rows(x2)' * rows(dy2)   # dense (C, K) gradient
        @test relerr(dense(p, dw), G .* (D .!= 0)) <= 1e-5
        close(p)
    end
end

@testset "beta, alpha and gates" begin
    p = random_plan(2, 2; block_size = 8)
    w, x = randn(rng, Float32, weight_size(p)), randn(rng, Float32, input_size(p, 3))
    y1 = fprop!(fill(NaN32, output_size(p, 3)), p, x, w)
    prev = randn(rng, Float32, output_size(p, 3))
    y2 = fprop!(copy(prev), p, x, w; alpha = 0.5f0, beta = 1f0, gate = fill(2f0, p.nnz))
    @test isapprox(y2, y1 .+ prev; rtol = 1e-5)
end

@testset "bfloat16" begin
    p16 = Plan([1 0; 1 1]; block_size = 16, dtype = BF16)
    p32 = Plan([1 0; 1 1]; block_size = 16)
    x = BF16.(randn(rng, Float32, input_size(p16, 5)))
    w = BF16.(randn(rng, Float32, weight_size(p16)))
    y = fprop!(Array{BF16}(undef, output_size(p16, 5)), p16, x, w)
    ref = fprop!(fill(NaN32, output_size(p32, 5)), p32, Float32.(x), Float32.(w))
    @test relerr(Float32.(y), Float64.(ref)) <= 1e-2
    @test_throws BlocksparseError fprop!(fill(NaN32, output_size(p16, 5)), p16, Float32.(x), Float32.(w))
end

@testset "errors carry the library message" begin
    e = try Plan(zeros(Int, 2, 2)); nothing catch err; err end
    @test e isa BlocksparseError && e.name == "BS_STATUS_INVALID_LAYOUT" && occursin("bsmm_create", e.message)
    e = try Plan(ones(Int, 1, 1); block_size = 12); nothing catch err; err end
    @test e isa BlocksparseError && e.name == "BS_STATUS_INVALID_VALUE" && occursin("block_size", e.message)
    e = try Plan(2, 2, [0, 1, 1], [5]); nothing catch err; err end
    @test e isa BlocksparseError && e.name == "BS_STATUS_INVALID_LAYOUT"
    p = Plan([1 1]; block_size = 8)
    w, y = ones(Float32, weight_size(p)), fill(NaN32, output_size(p, 2))
    e = try fprop!(y, p, ones(Float32, p.C * 2 - 1), w; N = 2); nothing catch err; err end
    @test e isa BlocksparseError && e.name == "BS_STATUS_SHAPE_MISMATCH"
    e = try fprop!(y, p, ones(Float32, input_size(p, 2)), w; alpha = Inf32); nothing catch err; err end
    @test e isa BlocksparseError && occursin("alpha", e.message)
    @test all(isnan, y)
    close(p)
    close(p)  # idempotent
    @test_throws BlocksparseError fprop!(y, p, ones(Float32, input_size(p, 2)), w)
end

@testset "one plan, several tasks" begin
    p = random_plan(4, 4; block_size = 8)
    w, x = randn(rng, Float32, weight_size(p)), randn(rng, Float32, input_size(p, 9))
    want = fprop!(fill(NaN32, output_size(p, 9)), p, x, w)
    ok = fetch.([Threads.@spawn begin
        good = true
        for _ in 1:20
            y = fprop!(fill(NaN32, output_size(p, 9)), p, x, w)
            good &= reinterpret(UInt32, y) == reinterpret(UInt32, want)
        end
        good
    end for _ in 1:8])
    @test all(ok)
end

@testset "identity and l2_normalize" begin
    p = Plan([1 0; 0 1]; block_size = 8)
    w = identity_init!(fill(NaN32, weight_size(p)), p, 3f0)
    x = randn(rng, Float32, input_size(p, 4))
    @test isapprox(fprop!(fill(NaN32, output_size(p, 4)), p, x, w), 3 .* x; rtol = 1e-5)
    @test isapprox(l2_normalize!(fill(NaN32, weight_size(p)), p, w), w ./ 3; atol = 1e-6)
end
