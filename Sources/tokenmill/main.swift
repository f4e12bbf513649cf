print("tokenmill")
