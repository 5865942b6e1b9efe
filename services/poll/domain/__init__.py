"""Pure polling logic: query building, paging, watermarks, record -> delivery. No I/O."""
