read_index = 0
while True:
    data, size, read_index = q.read(read_index)
    if data is not None:
        process(data)
