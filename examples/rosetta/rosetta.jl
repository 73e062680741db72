# The Rosetta example, Julia version (see README.md): prints the same checksum line as rosetta.c.
using Blocksparse
using Printf

const SEED, B, CB, KB, N = UInt32(2024), 16, 6, 5, 7

function rhash(s::UInt32, i::UInt32)
    x = i * 0x9E3779B1 + s
    x ⊻= x >> 16
    x *= 0x7FEB352D
    x ⊻= x >> 15
    x *= 0x846CA68B
    x ⊻= x >> 16
    return x
end

value(stream, i) = Float32(Int((rhash(SEED * UInt32(4) + UInt32(stream), UInt32(i)) >> 8) % 17) - 8) / 8

layout = [Int(rhash(SEED * UInt32(4), UInt32(c * KB + k)) % 3 == 0 || c % KB == k % CB) for c in 0:CB-1, k in 0:KB-1]
plan = Plan(layout; block_size = B)
# Flat index j of C's row-major arrays is linear index j+1 of the column-major Julia arrays.
w = reshape(Float32[value(1, j) for j in 0:prod(weight_size(plan))-1], weight_size(plan))
x = reshape(Float32[value(2, j) for j in 0:N*plan.C-1], input_size(plan, N))
y = fprop!(zeros(Float32, output_size(plan, N)), plan, x, w)
checksum = sum(Float64(y[i]) * ((i - 1) % 7 + 1) for i in eachindex(y))
@printf("rosetta N=%d C=%d K=%d nnz=%d checksum=%.6f\n", N, plan.C, plan.K, plan.nnz, checksum)
close(plan)
