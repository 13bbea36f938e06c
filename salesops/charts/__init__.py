"""Pure altair chart builders: DataFrame in, ``alt.Chart`` out. One module per area."""
