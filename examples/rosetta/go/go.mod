module rosetta

go 1.19

require blocksparse v0.0.0

replace blocksparse => ../../../bindings/go
