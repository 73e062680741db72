module blocksparse

go 1.19
